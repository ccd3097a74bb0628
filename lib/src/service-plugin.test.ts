import { describe, expect, test } from 'bun:test'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bufferedStdout } from './logger.ts'
import { pathOf } from './service-plugin.ts'

describe('pathOf', () => {
  test('reads the path of a request URL as new URL().pathname does', () => {
    for (const url of [
      'http://localhost/catalog/42',
      'http://127.0.0.1:8000/catalog?page=2#top',
      'http://localhost/cart/abc/items/7#x',
      'http://localhost:8000',
      'http://localhost/',
    ]) {
      expect(pathOf(url)).toBe(new URL(url).pathname)
    }
  })
})

describe('bufferedStdout', () => {
  test('holds lines until the buffer fills or it is flushed, and writes them in order', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shopstack-log-'))
    const path = join(dir, 'out.log')
    const fd = openSync(path, 'w')
    try {
      const destination = bufferedStdout(fd, 64)
      destination.write('{"n":1}\n')
      expect(readFileSync(path, 'utf8')).toBe('')
      for (let n = 2; n <= 10; n++) destination.write(`{"n":${n}}\n`)
      destination.flushSync()
      const lines = readFileSync(path, 'utf8').trim().split('\n')
      expect(lines.map((line) => JSON.parse(line).n)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    } finally {
      closeSync(fd)
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
