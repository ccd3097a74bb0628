// Floor 1: a proxy on Bun.serve and native fetch, nothing else.
const upstream = process.env.UPSTREAM_URL
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch(request) {
    const url = request.url
    return fetch(upstream + url.slice(url.indexOf('/', url.indexOf('//') + 2)))
  },
})
// The harness (scripts/processes.ts) reads the port from this line.
console.log(JSON.stringify({ msg: 'listening', port: server.port }))
