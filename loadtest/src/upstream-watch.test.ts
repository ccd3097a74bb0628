// The upstream watch: the services' own counters, read from their /metrics text, counted from the
// run's start, so the load page can show the failures the gateway's retries hid.

import { describe, expect, test } from 'bun:test'
import { createUpstreamWatch, sumCounter } from './upstream-watch.ts'

const hosts = { gateway: 'http://gateway', catalog: 'http://catalog', cart: 'http://cart' }

function metrics(catalogErrors: number, gatewayRetries: number, refused: number): Record<string, string> {
  return {
    'http://catalog/metrics': [
      '# TYPE http_requests_total counter',
      `http_requests_total{method="GET",endpoint="/catalog/:id",status="200",service="catalog"} ${100 - catalogErrors}`,
      `http_requests_total{method="GET",endpoint="/catalog/:id",status="503",service="catalog"} ${catalogErrors}`,
      'http_requests_total{method="GET",endpoint="/metrics",status="200",service="catalog"} 40',
      'http_requests_total{method="GET",endpoint="/healthz",status="503",service="catalog"} 7',
    ].join('\n'),
    'http://cart/metrics': [
      'http_requests_total{method="POST",endpoint="/cart/add",status="200",service="cart"} 10',
      'upstream_retries_total{upstream="catalog",reason="503",service="cart"} 1',
    ].join('\n'),
    'http://gateway/metrics': [
      `upstream_retries_total{upstream="catalog",reason="503",service="gateway"} ${gatewayRetries}`,
      'upstream_retries_total{upstream="cart",reason="503",service="gateway"} 2',
      `upstream_retry_budget_exhausted_total{upstream="catalog",service="gateway"} ${refused}`,
    ].join('\n'),
  }
}

describe('the upstream watch', () => {
  test('sums a counter over the samples whose labels pass, and no other metric of a similar name', () => {
    const text = 'x_total{a="1"} 2\nx_total{a="2"} 3\nx_total_created{a="1"} 99\n# x_total 5'
    expect(sumCounter(text, 'x_total')).toBe(5)
    expect(sumCounter(text, 'x_total', (l) => l.a === '2')).toBe(3)
  })

  test("counts each upstream's requests, 5xx and the retries sent to it from the run's start, probes left out", async () => {
    let texts = metrics(5, 10, 0)
    const watch = createUpstreamWatch({
      hosts,
      fetch: async (url) => new Response(texts[url] ?? '', { status: texts[url] ? 200 : 404 }),
    })
    await watch.begin()
    texts = metrics(25, 40, 3)
    const [catalog, cart] = await watch.summary()
    // 20 more 503s among the catalog's 100 reads (the counter of 200s went down by as many).
    expect(catalog).toMatchObject({ service: 'catalog', errors: 20, retries: 30, retries_refused: 3 })
    expect(cart).toMatchObject({ service: 'cart', requests: 0, errors: 0, retries: 0 })
    expect(watch.last()).toHaveLength(2)
  })
})
