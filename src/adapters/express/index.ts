import { IncomingMessage, type ServerResponse } from 'node:http'
import type { Sessions } from '../../core/manager.js'
import type { RequestSession } from '../../core/request.js'
import type { SessionView } from '../../core/view.js'
import { basePrototype, commitBeforeEnd, nodeRequestInfo, sendFailure } from '../node/lifecycle.js'

declare global {
  // Types `req.session` / `req.sessionID` for Express apps that import this adapter.
  namespace Express {
    interface Request {
      session: SessionView
      sessionID: string
    }
  }
}

type Next = (err?: unknown) => void
const lifecycle = Symbol('sessionmesh.request')
type SessionReq = IncomingMessage & { session?: SessionView; [lifecycle]?: RequestSession }

const withAccessors = new WeakSet<object>()
const accessors: PropertyDescriptorMap = {
  // `req.sessionID` follows `regenerate()`, so it is a getter.
  sessionID: {
    get(this: SessionReq) {
      return this[lifecycle]?.session.id
    },
    // express-session, in another app of the same process, assigns it.
    set(this: SessionReq, value: unknown) {
      Object.defineProperty(this, 'sessionID', { value, writable: true, configurable: true, enumerable: true })
    },
    configurable: true,
  },
  session: {
    get(this: SessionReq) {
      return this[lifecycle]?.view
    },
    // Assignable as with express-session (tests and other middleware replace it).
    set(this: SessionReq, value: unknown) {
      Object.defineProperty(this, 'session', { value, writable: true, configurable: true, enumerable: true })
    },
    configurable: true,
  },
}
/**
 * `req.session` and `req.sessionID` are accessors over the request's lifecycle, defined once
 * on Express's request prototype: adding properties to every request object costs more than
 * the rest of the adapter together. The prototype is the one just above node's own (shared
 * by every app and mounted sub-app, which Express swaps between), never node's
 * IncomingMessage.prototype itself, which every server in the process shares.
 */
function exposeAccessors(req: SessionReq): void {
  const proto = basePrototype(req, IncomingMessage.prototype)
  if (withAccessors.has(proto)) return
  if (proto === IncomingMessage.prototype) {
    Object.defineProperties(req, accessors)
    return
  }
  Object.defineProperties(proto, accessors)
  withAccessors.add(proto)
}

/**
 * Express 4 and 5 middleware with an express-session compatible `req.session`: property
 * style (`req.session.user = u`), `regenerate/destroy/save/reload/touch` with callbacks or
 * promises, `req.sessionID`; plus `get/set/delete` and `principal`.
 *
 * @example
 * import express from 'express'
 * import { createSessions } from 'sessionmesh'
 * import { session } from 'sessionmesh/express'
 * const app = express()
 * app.use(session(createSessions({ secret: [process.env.SESSION_SECRET!] })))
 * app.post('/login', async (req, res) => {
 *   await req.session.regenerate()
 *   req.session.principal = 'user:42'
 *   req.session.user = { id: 42 }
 *   res.redirect('/')          // sent only after the session is saved
 * })
 */
export function session(sessions: Sessions) {
  return function sessionMiddleware(req: IncomingMessage, res: ServerResponse, next: Next): void {
    const sreq = req as SessionReq
    if (sreq[lifecycle] || Object.hasOwn(sreq, 'session')) return next()
    const info = nodeRequestInfo(req)
    // Express's own `req.secure` honours its `trust proxy` setting; respect it when set.
    if ((req as { secure?: boolean }).secure) info.encrypted = true
    sessions.open(info).then(
      (rs) => {
        commitBeforeEnd(sessions, rs, res)
        sreq[lifecycle] = rs
        exposeAccessors(sreq)
        next()
      },
      (error: unknown) => sendFailure(res, error),
    )
  }
}

export type { SessionView }
