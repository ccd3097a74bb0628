// The boundaries contracts/README.md draws, checked on the source: no workspace imports another
// service (by package name or by relative path, type-only imports included), no package depends on
// one, and the contracts import nothing of ours. e2e/ is no workspace: it is where services meet.

import { describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, resolve, sep } from 'node:path'

const ROOT = resolve(import.meta.dir, '../..')
const SERVICES = ['catalog', 'cart', 'gateway']
const WORKSPACES = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] })
  .workspaces

/** Every `from '…'`, `import '…'` and `import('…')` of a module, `import type` included. */
export function importsOf(source: string): string[] {
  const pattern = /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(?\s*['"]([^'"]+)['"]/g
  return [...source.matchAll(pattern)].map((m) => (m[1] ?? m[2]) as string)
}

/** The top-level folder an import from `file` lands in: `@shopstack/cart/app` and `../../cart/src/x.ts` are both `cart`. */
export function folderOf(file: string, specifier: string): string | undefined {
  const scoped = /^@shopstack\/([^/]+)/.exec(specifier)
  if (scoped) return scoped[1]
  if (!specifier.startsWith('.')) return undefined
  return relative(ROOT, resolve(file, '..', specifier)).split(sep)[0]
}

/** What `file`, in workspace `own`, may not import: another service; for the contracts, anything of ours. */
export function crossings(own: string, file: string, source: string): string[] {
  return importsOf(source).filter((specifier) => {
    const folder = folderOf(file, specifier)
    if (folder === undefined || folder === own) return false
    return own === 'contracts' || SERVICES.includes(folder)
  })
}

function sourcesOf(dir: string): string[] {
  return (
    readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .filter((path) => /\.tsx?$/.test(path) && !path.split(sep).includes('node_modules'))
      .map((path) => join(dir, path))
      // This file's own examples of forbidden imports are strings, not imports.
      .filter((path) => path !== import.meta.path)
  )
}

describe('no workspace imports another service', () => {
  test.each(WORKSPACES)('%s imports no other service', (workspace) => {
    const found = sourcesOf(join(ROOT, workspace)).flatMap((file) =>
      crossings(workspace, file, readFileSync(file, 'utf8')).map(
        (specifier) => `${relative(ROOT, file)} imports ${specifier}`,
      ),
    )
    expect(found).toEqual([])
  })

  test.each(WORKSPACES)('%s depends on no service package', (workspace) => {
    const pkg = JSON.parse(readFileSync(join(ROOT, workspace, 'package.json'), 'utf8')) as Record<
      string,
      Record<string, string> | undefined
    >
    const names = ['dependencies', 'devDependencies', 'peerDependencies'].flatMap((key) =>
      Object.keys(pkg[key] ?? {}),
    )
    const forbidden = (name: string) =>
      workspace === 'contracts'
        ? name.startsWith('@shopstack/')
        : SERVICES.some((s) => s !== workspace && name === `@shopstack/${s}`)
    expect(names.filter(forbidden)).toEqual([])
  })

  test('the scan sees every kind of import, by name and by path', () => {
    const file = join(ROOT, 'gateway/src/app.ts')
    const source = [
      "import { Cart } from '@shopstack/cart/model'",
      "import type {\n  Product,\n} from '../../catalog/src/products/model.ts'",
      "export { x } from '../../cart/src/app.ts'",
      "const lazy = await import('@shopstack/catalog/app')",
      "import { ok } from './proxy.ts'",
      "import { fine } from '@shopstack/contracts/carts'",
      "import { alsoFine } from '../../e2e/in-process.ts'",
    ].join('\n')
    expect(crossings('gateway', file, source)).toEqual([
      '@shopstack/cart/model',
      '../../catalog/src/products/model.ts',
      '../../cart/src/app.ts',
      '@shopstack/catalog/app',
    ])
    expect(
      crossings(
        'contracts',
        join(ROOT, 'contracts/src/carts.ts'),
        "import { x } from '@shopstack/lib/errors'",
      ),
    ).toEqual(['@shopstack/lib/errors'])
  })
})
