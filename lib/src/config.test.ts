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

  test('dns+http://name:port finds the instances by DNS; the name itself is used until it is resolved', () => {
    const config = loadConfig('gateway', {
      CATALOG_SERVICE_URL: 'dns+http://catalog-pods:8001',
      CART_SERVICE_URL: 'dns+https://cart-pods:8443/',
    })
    expect(config.catalogDiscovery).toEqual({ name: 'catalog-pods', port: 8001, protocol: 'http' })
    expect(config.catalogUrls).toEqual(['http://catalog-pods:8001'])
    expect(config.cartDiscovery).toEqual({ name: 'cart-pods', port: 8443, protocol: 'https' })
    expect(config.cartUrl).toBe('https://cart-pods:8443')
    expect(config.discoveryIntervalMs).toBe(5000)
    expect(loadConfig('gateway', { DISCOVERY_INTERVAL_MS: '1000' }).discoveryIntervalMs).toBe(1000)
    // Plain URLs are not discovered.
    expect(loadConfig('gateway', {}).catalogDiscovery).toBeUndefined()
    expect(loadConfig('gateway', {}).cartDiscovery).toBeUndefined()
  })

  test.each([
    ['dns+http://catalog-pods', 'no port'],
    ['dns+ftp://catalog-pods:8001', 'not http(s)'],
    ['dns+http://catalog-pods:8001,http://c2:8001', 'a list'],
    ['dns+http://catalog-pods:8001/api', 'a path'],
    ['dns+http://catalog-pods:8001?x=1', 'a query'],
    ['dns+http://', 'no name'],
  ])('a discovery URL %s (%s) is refused, naming the variable', (value) => {
    expect(() => loadConfig('cart', { CATALOG_SERVICE_URL: value })).toThrow(
      /^CATALOG_SERVICE_URL must be one dns\+http\(s\):\/\/name:port with nothing else/,
    )
  })

  test('a discovery URL with credentials is refused without showing them', () => {
    const load = () => loadConfig('cart', { CATALOG_SERVICE_URL: 'dns+http://u:hunter22@catalog-pods:8001' })
    expect(load).toThrow(/CATALOG_SERVICE_URL must be one dns\+http/)
    expect(load).not.toThrow(/hunter22/)
  })

  test('the drain grace is 3 s unless DRAIN_GRACE_MS says otherwise (0 to 600000)', () => {
    expect(loadConfig('catalog', {}).drainGraceMs).toBe(3000)
    expect(loadConfig('catalog', { DRAIN_GRACE_MS: '0' }).drainGraceMs).toBe(0)
    expect(loadConfig('catalog', { DRAIN_GRACE_MS: '600000' }).drainGraceMs).toBe(600_000)
  })

  test('upstream instances are checked every second unless HEALTH_CHECK_INTERVAL_MS says otherwise; 0 is off', () => {
    expect(loadConfig('gateway', {}).healthCheckIntervalMs).toBe(1000)
    expect(loadConfig('gateway', { HEALTH_CHECK_INTERVAL_MS: '0' }).healthCheckIntervalMs).toBe(0)
    expect(loadConfig('gateway', { HEALTH_CHECK_INTERVAL_MS: '60000' }).healthCheckIntervalMs).toBe(60_000)
  })

  test('retries get a budget of 20% of the calls in flight unless RETRY_BUDGET_RATIO says otherwise; off is none', () => {
    expect(loadConfig('gateway', {}).retryBudgetRatio).toBe(0.2)
    expect(loadConfig('gateway', { RETRY_BUDGET_RATIO: '0.5' }).retryBudgetRatio).toBe(0.5)
    expect(loadConfig('gateway', { RETRY_BUDGET_RATIO: '0' }).retryBudgetRatio).toBe(0)
    expect(loadConfig('gateway', { RETRY_BUDGET_RATIO: '1' }).retryBudgetRatio).toBe(1)
    expect(loadConfig('cart', { RETRY_BUDGET_RATIO: 'OFF' }).retryBudgetRatio).toBe('off')
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
    ['DRAIN_GRACE_MS', '600001', /^DRAIN_GRACE_MS must be a whole number from 0 to 600000, got "600001"$/],
    ['DRAIN_GRACE_MS', '-1', /^DRAIN_GRACE_MS must be a whole number from 0 to 600000, got "-1"$/],
    ['DRAIN_GRACE_MS', '2.5s', /^DRAIN_GRACE_MS must be a whole number from 0 to 600000, got "2.5s"$/],
    ['HEALTH_CHECK_INTERVAL_MS', '60001', /^HEALTH_CHECK_INTERVAL_MS must be a whole number from 0 to 60000/],
    ['HEALTH_CHECK_INTERVAL_MS', '1e3', /^HEALTH_CHECK_INTERVAL_MS must be a whole number from 0 to 60000/],
    ['HEALTH_CHECK_INTERVAL_MS', 'often', /^HEALTH_CHECK_INTERVAL_MS must be a whole number .*got "often"$/],
    ['RETRY_BUDGET_RATIO', '1.5', /^RETRY_BUDGET_RATIO must be a number from 0 to 1 or "off", got "1.5"$/],
    ['RETRY_BUDGET_RATIO', '-0.1', /^RETRY_BUDGET_RATIO must be a number from 0 to 1 or "off"/],
    ['RETRY_BUDGET_RATIO', 'Infinity', /^RETRY_BUDGET_RATIO must be a number from 0 to 1 or "off"/],
    ['RETRY_BUDGET_RATIO', '20%', /^RETRY_BUDGET_RATIO must be a number from 0 to 1 or "off"/],
    ['RETRY_BUDGET_RATIO', 'none', /^RETRY_BUDGET_RATIO must be a number from 0 to 1 or "off"/],
    ['DISCOVERY_INTERVAL_MS', '99', /^DISCOVERY_INTERVAL_MS must be a whole number from 100 to 300000/],
    ['DISCOVERY_INTERVAL_MS', '300001', /^DISCOVERY_INTERVAL_MS must be a whole number from 100 to 300000/],
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
