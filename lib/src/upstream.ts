// An HTTP client for one upstream service — one or several instances of it — on Bun's native fetch
// (kept-alive connections). Bun's fetch is not instrumented by OpenTelemetry, so this makes a
// CLIENT span per try and injects the W3C `traceparent` itself (with tracing off, the caller's
// trace context, so the trace id still ties the services' log lines together).
//
// Resilience (resilience.ts has the parts and where their defaults come from):
// - instances are used round-robin; one that keeps failing is ejected for a while, then probed
//   back in (half-open), and a retry goes to an instance the request has not tried yet;
// - every try has a timeout, and the whole call an overall one;
// - with `healthCheck`, every instance's readiness is checked on an interval (Envoy's active
//   health checking); one that fails it, or answers `Connection: close` (it drains after SIGTERM),
//   gets no new calls until a check passes, and an ejected one comes back through a check;
// - a try whose connection was refused never reached the server, so it goes to another instance
//   at once whatever the method, outside the retry budget (once per other instance); so does a
//   failed half-open probe of an idempotent request;
// - other retries: only idempotent requests (GET and HEAD, or any request the caller marks — the
//   gateway does for writes carrying an Idempotency-Key), on a connection failure, a per-try
//   timeout, a 502 or a 503, after a jittered backoff, and only while the retry budget allows
//   (decideRetry in resilience.ts is the whole decision);
// - at most `maxConcurrent` calls are in flight per upstream; beyond that a call is shed at once
//   with a 503 (ShedError, which carries Retry-After) rather than queued.
// A refused connection, a reset or a timeout becomes an UpstreamError (502 / 503 / 504) that names
// the upstream, never a hang or a bare 500; a 502 says Retry-After, as another try may find an
// instance. Metrics and span attributes show every retry, ejection, instance state and shed call.
// The instances and their checks live in upstream-instances.ts. Their set may change while the
// client runs (`setInstances`, or `discovery`: a DNS name resolved on an interval, discovery.ts):
// a remaining instance keeps its state, a new one is checked from the next interval on, and a
// removed one's metric series go with it.
// No credential an instance URL may carry (`http://user:pw@host`) reaches a span, a metric label,
// an error message or a log line: every URL shown goes through redactUrl.

import { otelServiceName } from '@shopstack/contracts/services'
import { redactUrl } from './config.ts'
import type { DiscoveryOptions } from './discovery.ts'
import { errorMessage, UpstreamError } from './errors.ts'
import {
  backoffMs,
  createRetryBudget,
  decideRetry,
  type Instance,
  type OutlierOptions,
  type RetryBudgetOptions,
  type RetryDecision,
  type RetryReason,
} from './resilience.ts'
import type { Logger } from './telemetry/logger.ts'
import { recordFailure, type Span, SpanKind, SpanStatusCode, type Tracing } from './telemetry/tracing.ts'
import { createUpstreamInstances, type HealthCheckOptions, type StartTimer } from './upstream-instances.ts'
import type { UpstreamMetrics } from './upstream-metrics.ts'

export interface RetryPolicy extends RetryBudgetOptions {
  /** Retries after the first try (Envoy's default is 1; two gets past one bad instance and a blip). */
  maxRetries?: number
  backoffBaseMs?: number
  backoffMaxMs?: number
}

export interface UpstreamOptions {
  /** Short name used in errors, metrics and spans ("catalog", "cart"). */
  name: string
  /** The instance, or the first of `baseUrls`. */
  baseUrl?: string
  /** Every instance of the upstream. */
  baseUrls?: readonly string[]
  tracing: Tracing
  upstreamMetrics?: UpstreamMetrics
  /** Overall timeout of one call, retries included, in milliseconds. */
  timeoutMs?: number
  /**
   * Timeout of each try of a call that may be retried; the overall timeout by default. A call that
   * may not be retried always gets the overall timeout for its single try.
   */
  perTryTimeoutMs?: number
  /** Calls in flight beyond which new calls are shed with a 503. */
  maxConcurrent?: number
  /** Seconds a shed caller is told to wait (Retry-After). */
  retryAfterSeconds?: number
  retry?: RetryPolicy
  outlier?: OutlierOptions
  /** Active readiness checks of every instance; none by default (close() stops them). */
  healthCheck?: HealthCheckOptions
  fetch?: (input: Request) => Promise<Response>
  random?: () => number
  sleep?: (ms: number) => Promise<unknown>
  /** Clock in milliseconds. */
  now?: () => number
  /** Runs the health checks' interval (tests drive it by hand). */
  startTimer?: StartTimer
  /**
   * Find the instances by DNS (a headless Service): resolved at once, then on an interval, until
   * close(). `baseUrls` is what is used until the first lookup answers (the name's own URL).
   */
  discovery?: Omit<DiscoveryOptions, 'onChange' | 'onError'>
  /** Where instance changes and failed lookups are logged. */
  logger?: Pick<Logger, 'info' | 'warn'>
}

export interface UpstreamRequest {
  method?: string
  /** Path and query on the upstream, starting with '/'. */
  path: string
  /** Route template for metric labels and span names ("/catalog/:id"). */
  route: string
  /** Sent as they are, plus `traceparent`, which each try sets on this object: build it per call. */
  headers?: Headers
  body?: string | null
  /** The span this call is a child of (the caller's SERVER span). */
  parent?: Span
  /** May this call be sent twice? Default: only for GET and HEAD. */
  idempotent?: boolean
}

/** A call refused because the upstream had too many in flight: answer 503 with Retry-After. */
export class ShedError extends UpstreamError {
  override name = 'ShedError'
  constructor(
    upstream: string,
    readonly retryAfterSeconds: number,
  ) {
    // RFC 9110 §10.2.3: shed load says when to come back.
    super(503, upstream, `Too many requests in flight to the ${upstream} service; retry shortly`, {
      headers: { 'retry-after': String(retryAfterSeconds) },
    })
  }
}

/** What one try came to: a response, or an error with its kind. */
type Try =
  | { response: Response; error?: undefined; unsent?: undefined }
  | { response?: undefined; error: UpstreamError /** Refused: nothing was sent. */; unsent: boolean }

export type Upstream = ReturnType<typeof createUpstream>

export function createUpstream(options: UpstreamOptions) {
  const {
    name,
    tracing,
    upstreamMetrics,
    timeoutMs = 5000,
    maxConcurrent = 512,
    retryAfterSeconds = 1,
    retry = {},
    outlier = {},
    healthCheck,
    fetch: doFetch = (r) => fetch(r),
    random = Math.random,
    sleep = Bun.sleep,
    now = () => performance.now(),
    startTimer,
    logger,
  } = options
  const baseUrls = options.baseUrls ?? (options.baseUrl ? [options.baseUrl] : [])
  const perTryTimeoutMs = Math.min(options.perTryTimeoutMs ?? timeoutMs, timeoutMs)
  const { maxRetries = 2, backoffBaseMs = 25, backoffMaxMs = 250 } = retry
  const budget = createRetryBudget(retry)
  const instances = createUpstreamInstances({
    name,
    baseUrls,
    outlier,
    healthCheck,
    discovery: options.discovery,
    upstreamMetrics,
    logger,
    fetch: doFetch,
    now,
    startTimer,
  })
  const { pool, urlOf, peerOf, setInstances, isShown } = instances
  let inFlight = 0
  upstreamMetrics?.trackInFlight(name, () => inFlight)

  /** One try against one instance, with its own span, timeout and metrics. */
  async function send(
    instance: Instance,
    call: UpstreamRequest,
    tryTimeoutMs: number,
    span: Span | undefined,
  ): Promise<Try> {
    const { method = 'GET', path, route, headers = new Headers(), body } = call
    const started = performance.now()
    // The call's headers are its own (see UpstreamRequest.headers): each try sets its traceparent.
    // With tracing off there is no CLIENT span; the caller's span (ids only, flag 00) is the
    // parent the upstream continues, so its log lines carry the same trace id.
    const carrier = span ?? call.parent
    if (carrier) tracing.inject(carrier, headers)
    let status = 'error'
    try {
      const response = await doFetch(
        new Request(instance.url + path, {
          method,
          headers,
          body,
          signal: AbortSignal.timeout(tryTimeoutMs),
        }),
      )
      status = String(response.status)
      span?.setAttribute('http.response.status_code', response.status)
      if (response.status >= 500) span?.setStatus({ code: SpanStatusCode.ERROR, message: status })
      return { response }
    } catch (error) {
      const failure = toUpstreamError(name, error, tryTimeoutMs, retryAfterSeconds)
      status = failure.status === 504 ? 'timeout' : 'unreachable'
      if (span) recordFailure(span, error, failure.detail)
      return { error: failure, unsent: isRefused(error) }
    } finally {
      if (upstreamMetrics) {
        const labels = { upstream: name, method, endpoint: route, status }
        upstreamMetrics.requests.inc(labels)
        upstreamMetrics.duration.observe(labels, (performance.now() - started) / 1000)
      }
    }
  }

  /** What one try teaches the pool: a failure counts towards ejection; Connection: close is goodbye. */
  function learnFrom(instance: Instance, outcome: Try, span: Span | undefined): void {
    const failed = outcome.error !== undefined || (outcome.response?.status ?? 0) >= 500
    if (pool.report(instance, !failed) && isShown(instance)) {
      upstreamMetrics?.ejections.inc({ upstream: name, upstream_instance: instance.host })
      span?.addEvent('shopstack.upstream.ejected', { 'shopstack.upstream.instance': urlOf(instance) })
      span?.setAttribute('shopstack.upstream.ejected', true)
    }
    // RFC 9112 §9.6: the instance closes this connection; ours do so only while they drain.
    if (outcome.response?.headers.get('connection') === 'close') pool.goingAway(instance)
  }

  /**
   * Whether a retry `decideRetry` asked for may go. One that never reached a server goes at once,
   * outside the budget. A budgeted one waits its backoff holding no slot, then takes a slot. With
   * another instance still untried (one instance failing, a peer healthy: a replica killed under
   * load), it may wait for a slot as long as one try may take, while the deadline leaves time for
   * this one: the burst is absorbed by the peer. With none (every instance tried, as when the
   * upstream as a whole fails: a retry storm), a retry with no slot is refused at once, so the
   * budget sheds the extra load instead of queueing it.
   */
  async function admit(
    decision: Extract<RetryDecision, { action: 'retry' }>,
    deadline: number,
    tryLimitMs: number,
    mayWait: boolean,
    slot: { held: boolean },
    span: Span | undefined,
  ): Promise<boolean> {
    if (decision.budgeted) {
      if (decision.delayMs > 0) await sleep(decision.delayMs)
      const waitMs = mayWait ? Math.min(tryLimitMs, deadline - now() - minTryMs(tryLimitMs)) : 0
      if (!(budget.tryRetry() || (waitMs > 0 && (await budget.acquire(sleep(waitMs)))))) {
        upstreamMetrics?.retryBudgetExhausted.inc({ upstream: name })
        span?.setAttribute('shopstack.upstream.retry_budget_exhausted', true)
        return false
      }
      slot.held = true
    }
    upstreamMetrics?.retries.inc({ upstream: name, reason: decision.reason })
    span?.setAttribute('shopstack.upstream.retry_reason', decision.reason)
    return true
  }

  function releaseSlot(slot: { held: boolean }): void {
    if (!slot.held) return
    budget.retryFinished()
    slot.held = false
  }

  /**
   * The error a caller gets for the last try. A try that timed out with no time left for another
   * reports the overall timeout: the deadline, not the per-try limit, bounded it (timers may fire
   * a hair early).
   */
  function finalError(
    error: UpstreamError,
    decision: RetryDecision,
    deadline: number,
    remaining: number,
    tryLimitMs: number,
  ): UpstreamError {
    const outOfTime = now() >= deadline - 1 || (decision.action === 'stop' && decision.why === 'out_of_time')
    if (error.status !== 504 || !(outOfTime || remaining <= tryLimitMs)) return error
    return new UpstreamError(504, name, `The ${name} service did not answer within ${timeoutMs} ms`, {
      cause: error,
    })
  }

  function startSpan(
    call: UpstreamRequest,
    instance: Instance,
    attempt: number,
    state: string,
    panic: boolean,
  ) {
    if (!tracing.enabled || !call.parent) return undefined
    const method = call.method ?? 'GET'
    return tracing.startSpan(`${method} ${call.route}`, SpanKind.CLIENT, call.parent, {
      'http.request.method': method,
      // OTel semconv: url.full must not carry credentials.
      'url.full': urlOf(instance) + call.path,
      'http.route': call.route,
      'shopstack.upstream': name,
      // Who is called, by the name its own spans carry: a viewer can draw the edge from this span
      // alone when the upstream never answered (a dead instance makes no SERVER span).
      'peer.service': otelServiceName(name),
      'shopstack.upstream.instance': urlOf(instance),
      'shopstack.upstream.instance_state': state,
      ...(attempt > 0 ? { 'http.request.resend_count': attempt } : {}),
      ...(panic ? { 'shopstack.upstream.panic': true } : {}),
      ...peerOf(instance),
    })
  }

  return {
    name,
    /** The first instance configured. */
    baseUrl: baseUrls[0] as string,
    baseUrls: baseUrls as readonly string[],
    setInstances,
    /** Discovery, when the instances are found by DNS (its refresh() resolves now). */
    discovery: instances.discovery,
    /** Every instance and its state (tests, diagnostics), URLs without userinfo. */
    instances: () =>
      pool.instances.map((instance) => ({
        url: urlOf(instance),
        state: instance.state,
        consecutiveFailures: instance.consecutiveFailures,
        ejections: instance.ejections,
        ready: pool.isReady(instance),
      })),

    async request(call: UpstreamRequest): Promise<Response> {
      const method = call.method ?? 'GET'
      const idempotent = call.idempotent ?? (method === 'GET' || method === 'HEAD')
      if (inFlight >= maxConcurrent) {
        upstreamMetrics?.shed.inc({ upstream: name })
        call.parent?.addEvent('shopstack.upstream.shed', { 'shopstack.upstream': name })
        call.parent?.setAttribute('shopstack.upstream.shed', true)
        throw new ShedError(name, retryAfterSeconds)
      }
      inFlight++
      budget.requestStarted()
      const deadline = now() + timeoutMs
      // A call that cannot be retried gets the whole time for its one try.
      const tryLimitMs = idempotent ? perTryTimeoutMs : timeoutMs
      const tried = new Set<Instance>()
      const slot = { held: false }
      let retries = 0
      try {
        for (let attempt = 0; ; attempt++) {
          const pick = pool.pick(tried)
          tried.add(pick.instance)
          const span = startSpan(call, pick.instance, attempt, pick.state, pick.panic)
          const remaining = Math.max(1, Math.ceil(deadline - now()))
          const outcome = await send(pick.instance, call, Math.min(tryLimitMs, remaining), span)
          releaseSlot(slot)
          learnFrom(pick.instance, outcome, span)
          const untried = pool.instances.length - tried.size
          const decision = decideRetry(
            {
              reason: retryReason(outcome),
              unsent: outcome.unsent === true,
              probe: pick.state === 'probing',
            },
            {
              idempotent,
              retries,
              maxRetries,
              untried,
              now: now(),
              deadline,
              backoffMs: backoffMs(retries, random, { baseMs: backoffBaseMs, maxMs: backoffMaxMs }),
              minTryMs: minTryMs(tryLimitMs),
            },
          )
          const retrying =
            decision.action === 'retry' &&
            (await admit(decision, deadline, tryLimitMs, untried > 0, slot, span))
          span?.end()
          if (retrying) {
            if (decision.budgeted) retries++
            await outcome.response?.body?.cancel()
            continue
          }
          if (outcome.error) throw finalError(outcome.error, decision, deadline, remaining, tryLimitMs)
          return outcome.response
        }
      } finally {
        releaseSlot(slot)
        budget.requestFinished()
        inFlight--
      }
    },

    /** Stop the readiness checks and discovery (the app's onStop). */
    close(): void {
      instances.close()
    },

    /**
     * Readiness: true when at least one instance answers `path` with a 2xx (one try each, in
     * parallel, outside outlier detection so a probe never ejects or restores an instance).
     */
    async ready(path = '/healthz', probeTimeoutMs = Math.min(timeoutMs, 2000)): Promise<void> {
      const tries = pool.instances.map(async (instance) => {
        const outcome = await send(instance, { path, route: path }, probeTimeoutMs, undefined)
        await outcome.response?.body?.cancel()
        if (outcome.error) throw outcome.error
        if (!outcome.response.ok) throw new Error(`${urlOf(instance)} answered ${outcome.response.status}`)
      })
      try {
        await Promise.any(tries)
      } catch {
        const failures = await Promise.allSettled(tries)
        const reasons = failures.map((f) => (f.status === 'rejected' ? errorMessage(f.reason) : 'ok'))
        throw new Error(redactUrl(`no ${name} instance is ready: ${reasons.join('; ')}`))
      }
    },
  }
}

/** Half a try's time at least (50 ms at most) must be left after a backoff, or the retry is pointless. */
const minTryMs = (tryLimitMs: number) => Math.min(tryLimitMs / 2, 50)

function retryReason(outcome: Try): RetryReason | undefined {
  if (outcome.error) return outcome.error.status === 504 ? 'timeout' : 'connect_failure'
  // 503: that instance cannot serve now. 502: that instance could not reach its own dependency
  // (a cart whose catalog call failed while a catalog replica drained); another may.
  if (outcome.response.status === 503) return 'status_503'
  if (outcome.response.status === 502) return 'status_502'
  return undefined
}

/** A refused connection: the request never left this process (Bun: ECONNREFUSED). */
function isRefused(error: unknown): boolean {
  const code = (error as { code?: string })?.code
  return code === 'ECONNREFUSED' || code === 'ConnectionRefused'
}

function toUpstreamError(
  name: string,
  error: unknown,
  timeoutMs: number,
  retryAfterSeconds: number,
): UpstreamError {
  const e = error as { name?: string; code?: string }
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') {
    return new UpstreamError(504, name, `The ${name} service did not answer within ${timeoutMs} ms`, {
      cause: error,
    })
  }
  // RFC 9110 §10.2.3: an instance may be back (or another found) by then.
  return new UpstreamError(502, name, `The ${name} service is unreachable`, {
    cause: error,
    headers: { 'retry-after': String(retryAfterSeconds) },
  })
}
