// Buffer methods Node and Bun have and @types/node does not declare: what buffer.write(text,
// offset, encoding) ends in, without its argument handling (why they matter: bytes.ts).

declare global {
  interface Buffer {
    /** Write `text` as Latin-1 at `offset`; returns the bytes written. */
    latin1Write(text: string, offset?: number, length?: number): number
    /** Write `text` as UTF-8 at `offset`; returns the bytes written. */
    utf8Write(text: string, offset?: number, length?: number): number
  }
}

export {}
