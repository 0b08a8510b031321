import { SessionMeshError } from './errors.js'

/** The response an adapter sends when the session layer fails: typed status, clear message, no internals. */
export interface FailureResponse {
  status: number
  headers: Record<string, string>
  body: string
}

/**
 * 503 (with Retry-After) when the store is down, 413 for a session over its size limit, the
 * error's own status for other typed errors, 500 otherwise. Messages never include ids or secrets.
 */
export function failureResponse(error: unknown): FailureResponse {
  const typed = error instanceof SessionMeshError
  const status = typed ? error.status : 500
  const body = JSON.stringify({
    error: status === 503 ? 'session store unavailable, try again shortly' : typed ? error.message : 'internal error',
    code: typed ? error.code : 'INTERNAL',
  })
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }
  if (status === 503) headers['retry-after'] = '1'
  return { status, headers, body }
}
