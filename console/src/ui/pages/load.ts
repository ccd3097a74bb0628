import { h, replace } from '../h.ts'
import type { PageContext } from '../router.ts'

export function loadPage({ root }: PageContext): void {
  replace(root, h('h1', null, 'Load'))
}
