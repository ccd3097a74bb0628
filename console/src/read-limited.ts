// Reads a body to its end, but never more than a bound: counted while reading, so a chunked body
// with no Content-Length (or one that lies) is cut off too. The receiver and the scraper share it.

/** A body past its bound; the caller says what that means (a 413, a target marked down). */
export class TooLargeError extends Error {
  override name = 'TooLargeError'
  constructor(readonly maxBytes: number) {
    super(`larger than ${maxBytes} bytes`)
  }
}

export async function readLimited(
  message: Request | Response,
  maxBytes: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const declared = Number(message.headers.get('content-length') ?? Number.NaN)
  if (declared > maxBytes) {
    await message.body?.cancel().catch(() => {})
    throw new TooLargeError(maxBytes)
  }
  if (!message.body) return new Uint8Array()
  const reader = message.body.getReader()
  const chunks: Uint8Array<ArrayBuffer>[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > maxBytes) {
      await reader.cancel().catch(() => {})
      throw new TooLargeError(maxBytes)
    }
    chunks.push(value as Uint8Array<ArrayBuffer>)
  }
  if (chunks.length === 1 && chunks[0]) return chunks[0]
  const out = new Uint8Array(total)
  let at = 0
  for (const chunk of chunks) {
    out.set(chunk, at)
    at += chunk.byteLength
  }
  return out
}
