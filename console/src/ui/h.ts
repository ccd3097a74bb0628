// A tiny DOM builder: h('a', { href, class: 'x' }, 'text', child) builds elements without HTML
// strings, so nothing a span attribute or a log line carries is ever parsed as markup.

type Child = Node | string | number | false | null | undefined | Child[]
type Props = Record<string, unknown>

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props?: Props | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue
    if (key.startsWith('on') && typeof value === 'function') {
      element.addEventListener(key.slice(2).toLowerCase(), value as EventListener)
    } else if (key === 'style' && typeof value === 'object') {
      Object.assign(element.style, value)
    } else if (key === 'value' || key === 'checked' || key === 'selected') {
      ;(element as unknown as Record<string, unknown>)[key] = value
    } else {
      element.setAttribute(key === 'className' ? 'class' : key, value === true ? '' : String(value))
    }
  }
  append(element, children)
  return element
}

/** An SVG element (the service map), with attributes set as given. */
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number> = {},
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const element = document.createElementNS('http://www.w3.org/2000/svg', tag)
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value))
  append(element, children)
  return element
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    if (Array.isArray(child)) append(parent, child)
    else parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)))
  }
}

/** Replace everything inside `parent`. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren()
  append(parent, children)
}
