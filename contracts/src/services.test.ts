import { expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { DEFAULT_PORTS, defaultUrl, otelServiceName, SERVICE_NAMES } from './services.ts'

const ROOT = resolve(import.meta.dir, '../..')

test('each service has a port, a local URL and an OpenTelemetry name', () => {
  expect(SERVICE_NAMES.map((s) => [defaultUrl(s), otelServiceName(s)])).toEqual([
    ['http://localhost:8000', 'shopstack-gateway'],
    ['http://localhost:8001', 'shopstack-catalog'],
    ['http://localhost:8002', 'shopstack-cart'],
  ])
})

test("the Dockerfile, which cannot import, gives each service image the service's port", () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
  for (const service of SERVICE_NAMES) {
    const stage = dockerfile.split(/^FROM /m).find((s) => s.startsWith(`runtime AS ${service}\n`)) ?? ''
    expect({
      service,
      port: /\bPORT=(\d+)/.exec(stage)?.[1],
      expose: /^EXPOSE (\d+)/m.exec(stage)?.[1],
    }).toEqual({
      service,
      port: String(DEFAULT_PORTS[service]),
      expose: String(DEFAULT_PORTS[service]),
    })
  }
})
