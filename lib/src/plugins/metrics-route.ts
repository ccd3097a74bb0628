// GET /metrics: Prometheus text, or OpenMetrics with exemplars when the scraper asks for it.

import { Elysia } from 'elysia'
import type { Metrics } from '../telemetry/metrics.ts'

export function metricsRoute(options: { service: string; metrics: Metrics }) {
  const { service, metrics } = options
  return new Elysia({ name: '@shopstack/metrics-route', seed: service }).get(
    '/metrics',
    ({ request }) => metrics.scrape(request.headers.get('accept')),
    {
      detail: {
        summary: 'Prometheus metrics (OpenMetrics with exemplars when asked)',
        tags: ['operations'],
        responses: {
          200: {
            description: 'Prometheus text, or OpenMetrics when the Accept header asks for it',
            content: {
              'text/plain': { schema: { type: 'string' } },
              'application/openmetrics-text': { schema: { type: 'string' } },
            },
          },
        },
      },
    },
  )
}
