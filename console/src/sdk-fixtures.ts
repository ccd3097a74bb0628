// Test support for the console's suites: spans and log records made by OpenTelemetry JS itself
// (real providers, real JSON serializers), so the console is tested against what the SDK sends,
// and in-memory stores closed after each test.

import { afterEach } from 'bun:test'
import type { Tracer } from '@opentelemetry/api'
import { SeverityNumber } from '@opentelemetry/api-logs'
import { JsonLogsSerializer, JsonTraceSerializer } from '@opentelemetry/otlp-transformer'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { createStore, type Store, type StoreOptions } from './store.ts'

/** One SDK provider per service (its own `service.name` resource), all exporting to one list. */
export function sdkShop(services: readonly string[]) {
  const exporter = new InMemorySpanExporter()
  const tracers = new Map<string, Tracer>()
  for (const service of services) {
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': service }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    })
    tracers.set(service, provider.getTracer('@shopstack/lib'))
  }
  return {
    tracer(service: string): Tracer {
      const found = tracers.get(service)
      if (!found) throw new Error(`no tracer for ${service}`)
      return found
    },
    spans: (): ReadableSpan[] => exporter.getFinishedSpans(),
    /** Forgets the spans recorded so far. */
    reset: () => exporter.reset(),
  }
}

/** Spans as an OTLP/JSON request body, serialized by OpenTelemetry JS. */
export function tracesBody(spans: ReadableSpan[]): Uint8Array<ArrayBuffer> {
  const bytes = JsonTraceSerializer.serializeRequest(spans)
  if (!bytes) throw new Error('the serializer wrote nothing')
  return new Uint8Array(bytes)
}

/** Log lines of one service as an OTLP/JSON request body, emitted as the dev runner emits them. */
export function logsBody(
  service: string,
  records: ReadonlyArray<{ body: string; severity?: SeverityNumber }>,
): Uint8Array<ArrayBuffer> {
  const exporter = new InMemoryLogRecordExporter()
  const provider = new LoggerProvider({ resource: resourceFromAttributes({ 'service.name': service }) })
  provider.addLogRecordProcessor(new SimpleLogRecordProcessor(exporter))
  const logger = provider.getLogger('dev-runner')
  for (const { body, severity = SeverityNumber.INFO } of records)
    logger.emit({ body, severityNumber: severity })
  const bytes = JsonLogsSerializer.serializeRequest(exporter.getFinishedLogRecords())
  if (!bytes) throw new Error('the serializer wrote nothing')
  return new Uint8Array(bytes)
}

/** A request body parsed as the receiver parses it. */
export const parsed = (body: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(body))

/** Stores for a suite: `open()` makes one (in memory unless told), each closed after its test. */
export function storesClosedAfterEach() {
  const open: Store[] = []
  afterEach(() => {
    for (const store of open.splice(0)) store.close()
  })
  return (options: Partial<StoreOptions> = {}): Store => {
    const store = createStore({ path: ':memory:', ...options })
    open.push(store)
    return store
  }
}
