// Who the services are and where they listen by default: the one place the names, ports, default
// URLs and OpenTelemetry service names are written. The Dockerfile and the Compose file cannot
// import: services.test.ts checks the Dockerfile's ports against these, and
// observability/compose.test.ts checks Compose against the Dockerfile.

/** The three services, in the order a person reads the shop: the edge first. */
export const SERVICE_NAMES = ['gateway', 'catalog', 'cart'] as const
export type ServiceName = (typeof SERVICE_NAMES)[number]

export const DEFAULT_PORTS: Readonly<Record<ServiceName, number>> = Object.freeze({
  gateway: 8000,
  catalog: 8001,
  cart: 8002,
})

/** The console's port, the one Locust's UI (and our load generator's) has always had. */
export const CONSOLE_PORT = 8089

/** Where a service answers on this machine by default (`http://localhost:8001`). */
export function defaultUrl(service: ServiceName): string {
  return `http://localhost:${DEFAULT_PORTS[service]}`
}

/**
 * A service's OpenTelemetry `service.name` (shopstack-catalog): on its spans, on its logs in the
 * Compose stack (the collector names them so) and in the console, so one name finds all three.
 */
export function otelServiceName(service: string): string {
  return `shopstack-${service}`
}
