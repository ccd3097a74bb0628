// The upstream for the memory floor: a bare Bun server answering one product as JSON.
const body = JSON.stringify({
  id: 42,
  name: 'Product 42',
  price: 12.5,
  stock: 3,
  description: 'x'.repeat(60),
})
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch: () => new Response(body, { headers: { 'content-type': 'application/json' } }),
})
// The harness (scripts/processes.ts) reads the port from this line.
console.log(JSON.stringify({ msg: 'listening', port: server.port }))
