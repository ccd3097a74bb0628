// The request id: a caller's `x-request-id` when it is a sane token, else a new UUID; answered in
// `x-request-id` and written on the span and the log line, so a failing request can be looked up.

import { Elysia } from 'elysia'
import { stateOf } from './request-context.ts'

const REQUEST_ID = /^[\w.:-]{1,128}$/

/** The id to use for a request that sent `incoming` (null when it sent none). */
export function requestIdFor(incoming: string | null): string {
  return incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID()
}

export function requestId(options: { service: string }) {
  return new Elysia({ name: '@shopstack/request-id', seed: options.service }).onRequest(
    function assignRequestId({ request, set }) {
      const id = requestIdFor(request.headers.get('x-request-id'))
      const state = stateOf(request)
      if (state) state.requestId = id
      set.headers['x-request-id'] = id
    },
  )
}
