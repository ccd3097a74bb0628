// The trivial endpoint the self-bench loads: the cheapest answer Bun.serve can give, on a free
// port, printed on stdout. Runs in its own process so the generator under test does not share
// its event loop.

const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('ok') })
console.log(server.port)
