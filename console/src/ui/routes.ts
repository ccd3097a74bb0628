// The console's pages: one page app bundled by Bun's HTML import, served at every page URL so each
// can be bookmarked. app.ts spreads these into its Bun.serve routes.

import page from './index.html'

export const pageRoutes = {
  '/': page,
  '/traces': page,
  '/traces/:id': page,
  '/logs': page,
  '/load': page,
  '/faults': page,
} as const
