// Every error as RFC 9457 problem+json, in one place: typed HttpErrors with their status and
// headers, validation failures as 422 with a list of fields, 404 (or 405 with Allow, RFC 9110
// §15.5.6, when the path takes other methods), and anything else as a 500 that echoes no internals
// but is kept for the span and the log line.

import { Elysia } from 'elysia'
import { HttpError, PROBLEM_CONTENT_TYPE, problem } from '../errors.ts'
import { detailOf, fromValidationError } from '../validation.ts'
import { stateOf } from './request-context.ts'

export interface ProblemJsonOptions {
  service: string
  /**
   * The methods routed for a path, when it matches a route: a request with another method is then
   * a 405 with `Allow`, not a 404. createServiceBase gives it the app's routes.
   */
  allowedMethods?: (path: string) => readonly string[] | undefined
}

export function problemJson(options: ProblemJsonOptions) {
  const { service, allowedMethods } = options
  return new Elysia({ name: '@shopstack/problem-json', seed: service }).onError(
    { as: 'global' },
    function renderProblem({ code, error: thrown, request, set, path }) {
      const state = stateOf(request)
      // A refusal thrown while parsing the body arrives wrapped in Elysia's ParseError.
      const error = code === 'PARSE' && thrown.cause instanceof HttpError ? thrown.cause : thrown
      let body: ReturnType<typeof problem>
      let failure: unknown
      if (error instanceof HttpError) {
        body = problem(error.status, error.detail, error.extensions)
        Object.assign(set.headers, error.headers)
        if (error.status >= 500) failure = error
      } else if (code === 'VALIDATION' && (error as { type?: string }).type === 'response') {
        // A handler answered what its own schema refuses: our bug, not the client's.
        failure = error
        body = problem(500, 'The server could not handle this request; it has been logged')
      } else if (code === 'VALIDATION') {
        const errors = fromValidationError(error)
        body = problem(422, detailOf(errors), { errors })
      } else if (code === 'PARSE') {
        body = problem(400, 'The request body is not valid JSON')
      } else if (code === 'NOT_FOUND') {
        const allow = allowedMethods?.(path)
        if (allow?.length) {
          set.headers.allow = allow.join(', ')
          body = problem(405, `${request.method} is not allowed on ${path}; it takes ${allow.join(', ')}`)
        } else {
          body = problem(404, `No route for ${request.method} ${path}`)
        }
      } else {
        failure = error
        body = problem(500, 'The server could not handle this request; it has been logged')
      }
      if (failure !== undefined && state) state.error = failure
      set.status = body.status
      set.headers['content-type'] = PROBLEM_CONTENT_TYPE
      return JSON.stringify(body)
    },
  )
}
