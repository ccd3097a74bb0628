// The FastAPI original the bench sets ours against (bench/fastapi.ts): the trio starts from Debian's
// packages, a product read and a cart add through its gateway answer what ours answer in the
// fields the original had, its /metrics counts by route template, and everything stops. Without
// the packages it is skipped, visibly (CI installs them and fails on any skip).

import { expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateProducts } from '../catalog/src/products/seed.ts'
import { fastapiMissing, startFastapiStack } from './fastapi.ts'

const missing = fastapiMissing()
if (missing) console.warn(`bench/fastapi.test.ts skipped: ${missing}`)

test.skipIf(missing !== undefined)(
  'the FastAPI trio answers a product read and a cart add as ours does, then stops',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shopstack-fastapi-test-'))
    const stack = await startFastapiStack(dir)
    try {
      const { gateway } = stack.services
      // The same seed: product 42 is ours, field for field.
      const product = await fetch(`${gateway.url}/catalog/42`)
      expect(product.status).toBe(200)
      expect(await product.json()).toEqual(generateProducts(1000)[41] as object)

      const added = await fetch(`${gateway.url}/cart/add`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ cart_id: 'fastapi-test', product_id: 42, quantity: 2 }),
      })
      expect(added.status).toBe(200)
      const { price_cents, name, currency } = generateProducts(1000)[41] as {
        price_cents: number
        name: string
        currency: string
      }
      // The Cart ours returns (contracts/src/carts.ts), exactly.
      expect(await added.json()).toEqual({
        cart_id: 'fastapi-test',
        lines: [
          {
            product_id: 42,
            name,
            unit_price_cents: price_cents,
            currency,
            quantity: 2,
            line_total_cents: 2 * price_cents,
          },
        ],
        item_count: 2,
        total_cents: 2 * price_cents,
        currency,
      })

      const metrics = await (await fetch(`${gateway.url}/metrics`)).text()
      expect(metrics).toContain(
        'http_requests_total{endpoint="/catalog/{product_id}",method="GET",status="200"} 1.0',
      )
      expect(metrics).toContain('http_request_duration_seconds_bucket')
    } finally {
      await stack.stop()
      rmSync(dir, { recursive: true, force: true })
    }
    for (const service of Object.values(stack.services))
      expect(service.process.exitCode ?? service.process.signalCode).not.toBeNull()
  },
  60_000,
)
