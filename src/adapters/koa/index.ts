import type { Context, Middleware, Next } from 'koa'
import { failureResponse } from '../../core/failure.js'
import type { Sessions } from '../../core/manager.js'
import type { SessionView } from '../../core/view.js'
import { nodeRequestInfo } from '../node/lifecycle.js'

declare module 'koa' {
  interface DefaultContext {
    session: SessionView
    sessionID: string
  }
}

const withSessionId = new WeakSet<object>()
/**
 * `ctx.sessionID` follows regenerate(), so it is a getter, defined once on the app's context
 * prototype (Koa's place for extensions) rather than on every ctx.
 */
function exposeSessionId(ctx: Context): void {
  const proto = Object.getPrototypeOf(ctx) as object
  if (withSessionId.has(proto)) return
  Object.defineProperty(proto, 'sessionID', {
    get(this: Context) {
      return (this.session as SessionView | undefined)?.id
    },
    configurable: true,
  })
  withSessionId.add(proto)
}

function fail(ctx: Context, error: unknown) {
  const f = failureResponse(error)
  ctx.status = f.status
  ctx.set(f.headers)
  ctx.body = f.body
}

/**
 * Koa middleware: `ctx.session` loaded before downstream middleware, saved after it and
 * before Koa writes the response. A downstream error skips the save (nothing half-done is kept).
 *
 * @example
 * import Koa from 'koa'
 * import { session } from 'sessionmesh/koa'
 * const app = new Koa()
 * app.use(session(sessions))
 * app.use((ctx) => { ctx.session.views = (ctx.session.views ?? 0) + 1; ctx.body = ctx.session.views })
 */
export function session(sessions: Sessions): Middleware {
  return async function sessionMiddleware(ctx: Context, next: Next) {
    const info = nodeRequestInfo(ctx.req)
    if (ctx.secure) info.encrypted = true
    let rs
    try {
      rs = await sessions.open(info)
    } catch (error) {
      return fail(ctx, error)
    }
    ctx.session = rs.view
    exposeSessionId(ctx)
    await next()
    try {
      if (!rs.commitIfIdle()) await rs.commit()
    } catch (error) {
      sessions.events.reportError(error as Error)
      return fail(ctx, error)
    }
    for (const [name, value] of rs.responseHeaders()) ctx.append(name, value)
  }
}

export type { SessionView }
