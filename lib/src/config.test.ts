import { describe, expect, test } from 'bun:test'
import { ConfigError, loadConfig, redactUrl } from './config.ts'

describe('loadConfig', () => {
  test('gives each service its port and the original simulated behaviour by default', () => {
    expect(loadConfig('gateway', {}).port).toBe(8000)
    expect(loadConfig('catalog', {}).simulation).toEqual({ latencyMs: [20, 60], failureRate: 0 })
    const cart = loadConfig('cart', {})
    expect(cart.port).toBe(8002)
    expect(cart.simulation).toEqual({ latencyMs: [30, 90], failureRate: 0.01 })
    expect(cart.catalogUrl).toBe('http://localhost:8001')
    expect(cart.otlpEndpoint).toBeUndefined()
  })

  test('listens on loopback unless HOST says otherwise', () => {
    expect(loadConfig('gateway', {}).host).toBe('127.0.0.1')
    expect(loadConfig('gateway', { HOST: '0.0.0.0' }).host).toBe('0.0.0.0')
  })

  test('a request body has 10 s to arrive unless BODY_TIMEOUT_MS says otherwise', () => {
    expect(loadConfig('cart', {}).bodyTimeoutMs).toBe(10_000)
    expect(loadConfig('cart', { BODY_TIMEOUT_MS: '2500' }).bodyTimeoutMs).toBe(2500)
    expect(() => loadConfig('cart', { BODY_TIMEOUT_MS: 'soon' })).toThrow(
      /BODY_TIMEOUT_MS must be a whole number/,
    )
  })

  test('SIMULATION=off turns every simulated latency and failure off', () => {
    expect(loadConfig('cart', { SIMULATION: 'off' }).simulation).toEqual({
      latencyMs: [0, 0],
      failureRate: 0,
    })
  })

  test('ranges and rates can be set', () => {
    const config = loadConfig('cart', { SIM_LATENCY_MS: '5-10', SIM_FAILURE_RATE: '0.5' })
    expect(config.simulation).toEqual({ latencyMs: [5, 10], failureRate: 0.5 })
  })

  test('probes are not traced unless TRACE_PROBES=true; another value stops the service, naming it', () => {
    expect(loadConfig('catalog', {}).traceProbes).toBe(false)
    expect(loadConfig('catalog', { TRACE_PROBES: 'true' }).traceProbes).toBe(true)
    expect(loadConfig('catalog', { TRACE_PROBES: 'FALSE' }).traceProbes).toBe(false)
    expect(() => loadConfig('catalog', { TRACE_PROBES: 'yes please' })).toThrow(
      new ConfigError('TRACE_PROBES must be "true" or "false", got "yes please"'),
    )
  })

  test('either spelling of the OTLP endpoint turns tracing on', () => {
    expect(loadConfig('gateway', { OTLP_ENDPOINT: 'http://collector:4318/' }).otlpEndpoint).toBe(
      'http://collector:4318',
    )
    expect(loadConfig('gateway', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).otlpEndpoint).toBe(
      'http://c:4318',
    )
  })

  test('OTEL_TRACES_SAMPLER picks the sampler (any case) and _ARG its ratio; a bad one names itself', () => {
    expect(loadConfig('gateway', {}).sampling).toEqual({ sampler: 'parentbased_always_on', ratio: 1 })
    expect(
      loadConfig('gateway', {
        OTEL_TRACES_SAMPLER: 'ParentBased_TraceIdRatio',
        OTEL_TRACES_SAMPLER_ARG: '0.1',
      }).sampling,
    ).toEqual({ sampler: 'parentbased_traceidratio', ratio: 0.1 })
    expect(() => loadConfig('gateway', { OTEL_TRACES_SAMPLER: 'sometimes' })).toThrow(/OTEL_TRACES_SAMPLER/)
    expect(() =>
      loadConfig('gateway', { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' }),
    ).toThrow(/OTEL_TRACES_SAMPLER_ARG/)
  })

  test('OTLP export headers come from the OpenTelemetry variables, percent-decoded', () => {
    const config = loadConfig('gateway', {
      OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Basic%20dXNlcjpwdw==, X-Scope-OrgID=shop',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-scope-orgid=traces',
    })
    expect(config.otlpHeaders).toEqual({ authorization: 'Basic dXNlcjpwdw==', 'x-scope-orgid': 'traces' })
    expect(loadConfig('gateway', {}).otlpHeaders).toEqual({})
    // A bad entry names the variable and the key, never the value (it may be a secret).
    expect(() => loadConfig('gateway', { OTEL_EXPORTER_OTLP_HEADERS: 'api-key' })).toThrow(
      /OTEL_EXPORTER_OTLP_HEADERS .*"api-key=…"/,
    )
    const secret = () => loadConfig('gateway', { OTEL_EXPORTER_OTLP_HEADERS: 'bad key=s3cr3t' })
    expect(secret).toThrow(ConfigError)
    expect(secret).not.toThrow(/s3cr3t/)
  })

  test('several instances of an upstream are given comma-separated', () => {
    const config = loadConfig('gateway', { CART_SERVICE_URL: 'http://cart-1:8002, http://cart-2:8002/' })
    expect(config.cartUrls).toEqual(['http://cart-1:8002', 'http://cart-2:8002'])
    expect(config.cartUrl).toBe('http://cart-1:8002')
  })

  test('the result is frozen', () => {
    expect(Object.isFrozen(loadConfig('catalog', {}))).toBe(true)
  })

  test.each([
    ['PORT', 'eighty', /PORT must be a whole number/],
    ['PORT', '70000', /PORT must be a whole number/],
    ['SIMULATION', 'maybe', /SIMULATION must be "on" or "off"/],
    ['SIM_LATENCY_MS', '60-20', /SIM_LATENCY_MS must be a range/],
    ['SIM_FAILURE_RATE', '1.5', /SIM_FAILURE_RATE must be a number from 0 to 1/],
    ['CATALOG_SERVICE_URL', 'localhost:8001', /CATALOG_SERVICE_URL must be an http\(s\) URL/],
    ['OTLP_ENDPOINT', 'grpc://x:4317', /OTLP_ENDPOINT must be an http\(s\) URL/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL must be one of/],
    ['CORS_ORIGINS', 'https://a.example/path', /CORS_ORIGINS must be \* or origins/],
    ['ADMIN_TOKEN', 'short', /ADMIN_TOKEN must be 8 to 256/],
    ['TRACING_MODE', 'heavy', /TRACING_MODE must be "lean" or "plugin"/],
    ['CART_STORE_URL', 'mysql://db', /CART_STORE_URL must be a redis:\/\/ URL/],
    ['CART_SERVICE_URL', 'http://a:1,,http://b:2', /CART_SERVICE_URL has an empty entry/],
  ])('an invalid %s (%s) is refused with a message naming it', (name, value, message) => {
    expect(() => loadConfig('cart', { [name]: value })).toThrow(ConfigError)
    expect(() => loadConfig('cart', { [name]: value })).toThrow(message)
  })
})

describe('redactUrl', () => {
  test('hides the userinfo of every URL in a text, and nothing else', () => {
    expect(redactUrl('http://user:pw@cart:8002/x?y=1')).toBe('http://***@cart:8002/x?y=1')
    expect(redactUrl('redis://:p%40ss@r:6379,http://a@b/c@d')).toBe('redis://***@r:6379,http://***@b/c@d')
    expect(redactUrl('http://cart:8002')).toBe('http://cart:8002')
  })

  test('a refused URL is named without its password', () => {
    expect(() => loadConfig('cart', { CART_STORE_URL: 'mysql://u:hunter22@db' })).toThrow('mysql://***@db')
    expect(() => loadConfig('gateway', { CATALOG_SERVICE_URL: 'ftp://u:hunter22@c' })).toThrow('ftp://***@c')
  })
})
