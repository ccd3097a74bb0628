// A History-API router for the one page app: each page URL (with its query string) is a real,
// bookmarkable address served by the same HTML; links inside the app change pages without a reload.

export interface PageContext {
  /** Where the page draws. */
  root: HTMLElement
  params: Record<string, string>
  query: URLSearchParams
  /** Go to another page of the app (a new history entry). */
  navigate: (url: string) => void
  /** Put the page's state in the address without a new page (filters, windows). */
  setQuery: (params: Record<string, string | number | undefined | null>, options?: { push?: boolean }) => void
  /** Called on leaving the page: stop timers, destroy charts. */
  onLeave: (cleanup: () => void) => void
}

export type Page = (context: PageContext) => void

export interface Route {
  pattern: string
  title: string
  page: Page
}

/** A path segment decoded, or as it is when it is no valid escape (`/traces/%zz`): the page says it is unknown. */
function decodeOr(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

export function match(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/').filter(Boolean)
  const have = path.split('/').filter(Boolean)
  if (want.length !== have.length) return undefined
  const params: Record<string, string> = {}
  for (const [i, part] of want.entries()) {
    const actual = have[i] ?? ''
    if (part.startsWith(':')) params[part.slice(1)] = decodeOr(actual)
    else if (part !== actual) return undefined
  }
  return params
}

export interface RouterOptions {
  routes: readonly Route[]
  root: HTMLElement
  /** After each page change (the navigation bar marks the current page). */
  onChange?: (route: Route | undefined, path: string) => void
  notFound: Page
}

export function startRouter(options: RouterOptions): { navigate: (url: string) => void } {
  const { routes, root, onChange, notFound } = options
  let cleanups: (() => void)[] = []

  function render(): void {
    for (const cleanup of cleanups) cleanup()
    cleanups = []
    root.replaceChildren()
    const path = location.pathname
    let found: Route | undefined
    let params: Record<string, string> = {}
    for (const route of routes) {
      const matched = match(route.pattern, path)
      if (matched) {
        found = route
        params = matched
        break
      }
    }
    document.title = `${found?.title ?? 'Not found'} · ShopStack console`
    onChange?.(found, path)
    ;(found?.page ?? notFound)({
      root,
      params,
      query: new URLSearchParams(location.search),
      navigate,
      setQuery(values, { push = false } = {}) {
        const search = new URLSearchParams()
        for (const [key, value] of Object.entries(values)) {
          if (value !== undefined && value !== null && value !== '') search.set(key, String(value))
        }
        const text = search.toString()
        const url = `${location.pathname}${text ? `?${text}` : ''}`
        if (url === `${location.pathname}${location.search}`) return
        if (push) history.pushState(null, '', url)
        else history.replaceState(null, '', url)
      },
      onLeave: (cleanup) => cleanups.push(cleanup),
    })
  }

  function navigate(url: string): void {
    history.pushState(null, '', url)
    render()
    window.scrollTo(0, 0)
  }

  // Same-origin links to pages go through the router; downloads, /api links, new tabs do not.
  document.addEventListener('click', (event) => {
    if (event.defaultPrevented || event.button !== 0) return
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
    const anchor = (event.target as Element | null)?.closest?.('a')
    if (!anchor || anchor.target || anchor.hasAttribute('download')) return
    const url = new URL(anchor.href, location.href)
    if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return
    event.preventDefault()
    navigate(url.pathname + url.search)
  })
  window.addEventListener('popstate', render)
  render()
  return { navigate }
}
