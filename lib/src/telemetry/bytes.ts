/// <reference path="./bun-buffer.d.ts" />
// A growable byte buffer that JSON is written into directly, for the two hot paths that produce
// text at the rate of requests: span export (otlp-json.ts) and log lines (logger.ts).
//
// Why bytes and not strings (the one place this is explained; the others link here): on
// JavaScriptCore a string built from pieces is a rope, and turning a batch of ropes into bytes
// later (a join, Buffer.from, a fetch body) costs more than building them (bench/README.md, "Most
// of the encoding cost was not encoding"). Writing each piece into one reused buffer while it is
// at hand avoids both the ropes and the copies. latin1Write and utf8Write (bun-buffer.d.ts) skip
// buffer.write's argument handling, which matters at about thirty calls a span.

const QUOTE = 34
/** Strings that can be copied as they are: printable ASCII without `"` or `\`. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

const allocate = (size: number) => Buffer.allocUnsafe(size)

/** A growable UTF-8 buffer with JSON helpers. */
export class ByteWriter {
  /** For latin1Write/utf8Write. */
  buf: Buffer
  /** The same memory as a plain Uint8Array: single-byte stores to it are faster than to a Buffer. */
  u8: Uint8Array
  pos = 0
  #seconds = Number.NaN
  #secondsText = ''

  constructor(size: number) {
    this.buf = allocate(size)
    this.u8 = new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.buf.length)
  }

  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return
    const next = allocate(Math.max(this.buf.length * 2, this.pos + n))
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
    this.u8 = new Uint8Array(next.buffer, next.byteOffset, next.length)
  }

  byte(value: number): void {
    this.reserve(1)
    this.u8[this.pos++] = value
  }

  /** Text known to be printable ASCII with nothing to escape: JSON syntax, numbers, hex ids. */
  raw(text: string): void {
    this.reserve(text.length)
    this.pos += this.buf.latin1Write(text, this.pos)
  }

  /** A non-negative safe integer, in decimal. */
  uint(value: number): void {
    if (value < 10) this.byte(48 + value)
    else this.raw(String(value))
  }

  /**
   * HrTime ([seconds, nanoseconds]) as a JSON string of decimal nanoseconds since the epoch. That
   * is more than 2^53, so it is written as the seconds (the same for a whole second's spans, so
   * their digits are kept) and then the nine digits of the fraction: no BigInt.
   */
  nanos(time: readonly [number, number]): void {
    const [seconds, fraction] = time
    if (seconds === 0) {
      this.raw(`"${fraction}"`)
      return
    }
    if (seconds !== this.#seconds) {
      this.#seconds = seconds
      this.#secondsText = `"${seconds}`
    }
    this.raw(this.#secondsText)
    this.reserve(10)
    const u8 = this.u8
    const at = this.pos
    let f = fraction | 0
    for (let i = 8; i >= 0; i--) {
      const q = (f / 10) | 0
      u8[at + i] = 48 + f - q * 10
      f = q
    }
    u8[at + 9] = QUOTE
    this.pos = at + 10
  }

  bytes(bytes: Uint8Array): void {
    this.reserve(bytes.length)
    this.buf.set(bytes, this.pos)
    this.pos += bytes.length
  }

  /** Text as UTF-8, as it is (a line that is already JSON). */
  text(text: string): void {
    this.reserve(text.length * 3)
    this.pos += this.buf.utf8Write(text, this.pos)
  }

  /** A JSON string literal: copied when plain, else escaped by JSON.stringify and written as UTF-8. */
  string(text: string): void {
    if (PLAIN.test(text)) {
      this.reserve(text.length + 2)
      this.u8[this.pos++] = QUOTE
      this.pos += this.buf.latin1Write(text, this.pos)
      this.u8[this.pos++] = QUOTE
    } else {
      const json = JSON.stringify(text)
      this.reserve(json.length * 3)
      this.pos += this.buf.utf8Write(json, this.pos)
    }
  }

  /** A copy of what was written; the writer starts over. */
  take(): Uint8Array {
    const out = new Uint8Array(this.pos)
    out.set(this.buf.subarray(0, this.pos))
    this.pos = 0
    return out
  }
}
