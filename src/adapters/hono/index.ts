import type { Context, MiddlewareHandler } from 'hono'
import { SessionMeshError } from '../../core/errors.js'
import { failureResponse } from '../../core/failure.js'
import type { Sessions } from '../../core/manager.js'
import type { RequestInfo } from '../../core/request.js'
import type { SessionView } from '../../core/view.js'

/** Hono context variables this middleware sets: `c.get('session')`. */
export type SessionVariables = { session: SessionView }

function respondFailure(error: unknown): Response {
  const f = failureResponse(error)
  return new Response(f.body, { status: f.status, headers: f.headers })
}

/**
 * Hono middleware on web-standard Request/Response: `c.get('session')` before the handler,
 * saved after it and before the Response is returned to the server.
 *
 * @example
 * import { Hono } from 'hono'
 * import { session, type SessionVariables } from 'sessionmesh/hono'
 * const app = new Hono<{ Variables: SessionVariables }>()
 * app.use(session(sessions))
 * app.get('/', (c) => c.json({ user: c.get('session').get('user') ?? null }))
 */
export function session(sessions: Sessions): MiddlewareHandler<{ Variables: SessionVariables }> {
  return async function sessionMiddleware(c, next) {
    const info: RequestInfo = {
      // A Fetch API Request may not list Host among its headers: its URL carries it.
      header: (name) => c.req.header(name) ?? (name === 'host' ? new URL(c.req.url).host : undefined),
      encrypted: c.req.url.startsWith('https:'),
      method: c.req.method,
    }
    let rs
    try {
      rs = await sessions.open(info)
    } catch (error) {
      return respondFailure(error)
    }
    c.set('session', rs.view)
    await next()
    // Hono's default error handler answers 500 to anything thrown, where Express, Fastify and
    // Koa honour `err.status`: a typed session error (SessionTooLargeError...) that ended as a
    // generic 500 is answered with its own status, like in those frameworks.
    if (c.error instanceof SessionMeshError && c.error.status !== 500 && c.res.status === 500) {
      c.res = undefined
      c.res = respondFailure(c.error)
    }
    try {
      if (!rs.commitIfIdle()) await rs.commit()
    } catch (error) {
      sessions.events.reportError(error as Error)
      c.res = undefined // drop the handler's response so the failure replaces it
      c.res = respondFailure(error)
      return
    }
    const headers = rs.responseHeaders()
    if (headers.length > 0) appendHeaders(c, headers)
  }
}

function appendHeaders(c: Context, headers: Array<[string, string]>) {
  try {
    for (const [name, value] of headers) c.res.headers.append(name, value)
  } catch {
    // Responses such as Response.redirect() have immutable headers: copy, then append.
    const copy = new Response(c.res.body, c.res)
    for (const [name, value] of headers) copy.headers.append(name, value)
    c.res = undefined
    c.res = copy
  }
}

export type { SessionView }
