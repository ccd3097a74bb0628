// The two OTLP/HTTP endpoints as plain Request → Response handlers over a store: read (with the
// limits of otlp.ts), decode, write in one transaction, answer. A refused request stores nothing.

import {
  type Decoded,
  decodeLogs,
  decodeTraces,
  exportAnswer,
  type LogRow,
  OtlpRequestError,
  readOtlpJson,
  type SpanRow,
} from './otlp.ts'
import type { Store } from './store.ts'

export interface ReceiverOptions {
  store: Store
  /** Largest accepted body, in bytes (after gzip is undone too). */
  maxBodyBytes?: number
}

export function createReceiver(options: ReceiverOptions) {
  const { store, maxBodyBytes = 16 * 1024 * 1024 } = options

  async function receive<T>(
    request: Request,
    decode: (document: unknown) => Decoded<T>,
    write: (rows: T[]) => void,
    kind: 'spans' | 'logs',
  ): Promise<Response> {
    try {
      const decoded = decode(await readOtlpJson(request, maxBodyBytes))
      write(decoded.rows)
      return Response.json(exportAnswer(kind, decoded))
    } catch (error) {
      if (error instanceof OtlpRequestError) {
        return Response.json(
          { title: error.title, status: error.status, detail: error.message },
          { status: error.status, headers: { 'content-type': 'application/problem+json' } },
        )
      }
      throw error
    }
  }

  return {
    traces: (request: Request) =>
      receive<SpanRow>(request, decodeTraces, (rows) => store.insertSpans(rows), 'spans'),
    logs: (request: Request) =>
      receive<LogRow>(request, decodeLogs, (rows) => store.insertLogs(rows), 'logs'),
  }
}
