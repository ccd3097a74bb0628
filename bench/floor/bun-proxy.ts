// Floor 1: a proxy on Bun.serve and native fetch, nothing else.
const upstream = process.env.UPSTREAM_URL
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: Number(process.env.PORT ?? 0),
  fetch(request) {
    const url = request.url
    const path = url.slice(url.indexOf('/', url.indexOf('//') + 2))
    // Ready as a service is (bench/floor.ts times spawn → the first 200 here, as the bench does).
    if (path === '/livez') return Response.json({ status: 'ok' })
    return fetch(upstream + path)
  },
})
// The harness (scripts/processes.ts) reads the port from this line.
console.log(JSON.stringify({ msg: 'listening', port: server.port }))
