// The OpenAPI document and docs page every service serves, as the original FastAPI services did
// with /docs: the page at /docs, the document at /docs/json. Built from the routes' `t` schemas.

import { openapi } from '@elysiajs/openapi'

export function createDocs(options: { service: string; version: string; description: string }) {
  const { service, version, description } = options
  return openapi({
    path: '/docs',
    documentation: { info: { title: `ShopStack ${service}`, version, description } },
    // Operational endpoints stay in the document but under their own tag.
    exclude: { paths: ['/docs', '/docs/json'] },
  })
}
