// Errors in one place: stores and clients throw HttpError (or a subclass) carrying a status, and
// `problemResponse` renders RFC 9457 problem details (application/problem+json). A 5xx never
// echoes internals: its detail is a fixed sentence, the real error goes to the log.

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

export interface Problem {
  type: string
  title: string
  status: number
  detail?: string
  instance?: string
  [extension: string]: unknown
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
}

export function statusTitle(status: number): string {
  return TITLES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error')
}

export interface HttpErrorOptions extends ErrorOptions {
  /** Response headers that belong to this refusal (Retry-After, WWW-Authenticate, Allow). */
  headers?: Record<string, string>
}

/** An error a client may see: status, a short title, a human sentence and its own headers. */
export class HttpError extends Error {
  override name = 'HttpError'
  readonly headers: Readonly<Record<string, string>>
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly extensions: Record<string, unknown> = {},
    options: HttpErrorOptions = {},
  ) {
    super(detail, options)
    this.headers = options.headers ?? {}
  }
}

export class NotFoundError extends HttpError {
  override name = 'NotFoundError'
  constructor(detail: string, extensions?: Record<string, unknown>) {
    super(404, detail, extensions)
  }
}

/** A simulated database failure: raised before anything is written. */
export class SimulatedFailureError extends HttpError {
  override name = 'SimulatedFailureError'
  constructor(operation: string) {
    super(
      503,
      `Simulated ${operation} failure; nothing was written, the request can be retried`,
      { simulated: true },
      // RFC 9110 §10.2.3: a retry can help at once, and the client is told so.
      { headers: { 'retry-after': '1' } },
    )
  }
}

/** An upstream that is down, refused the connection, timed out or answered garbage. */
export class UpstreamError extends HttpError {
  override name = 'UpstreamError'
  constructor(
    status: 502 | 503 | 504,
    readonly upstream: string,
    detail: string,
    options?: HttpErrorOptions,
  ) {
    super(status, detail, { upstream }, options)
  }
}

export function problem(status: number, detail?: string, extensions: Record<string, unknown> = {}): Problem {
  return {
    type: 'about:blank',
    title: statusTitle(status),
    status,
    ...(detail === undefined ? {} : { detail }),
    ...extensions,
  }
}

export function problemResponse(body: Problem, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status: body.status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...headers },
  })
}

/** An error's message, or whatever was thrown as a string. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
