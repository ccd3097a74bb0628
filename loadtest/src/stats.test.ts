// Run statistics: what a failure group keeps as its example.

import { describe, expect, test } from 'bun:test'
import { createStats } from './stats.ts'

describe('failure groups', () => {
  test('keep an example with a trace id when any failure of the group had one', () => {
    const stats = createStats({ now: () => 0 })
    const endpoint = stats.endpoint('gateway', 'GET', '/catalog/:id')
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    stats.failure(endpoint, 5, '502 Bad Gateway', { url: 'http://test/catalog/1', at_s: 1 }, 502)
    stats.failure(
      endpoint,
      5,
      '502 Bad Gateway',
      { url: 'http://test/catalog/2', at_s: 2, trace_id: traceId },
      502,
    )
    stats.failure(endpoint, 5, '502 Bad Gateway', { url: 'http://test/catalog/3', at_s: 3 }, 502)
    stats.failure(
      endpoint,
      5,
      '502 Bad Gateway',
      { url: 'http://test/catalog/4', at_s: 4, trace_id: 'ffffffffffffffffffffffffffffffff' },
      502,
    )
    expect(stats.snapshot().failures).toEqual([
      expect.objectContaining({
        count: 4,
        example: { url: 'http://test/catalog/2', at_s: 2, trace_id: traceId },
      }),
    ])
  })
})
