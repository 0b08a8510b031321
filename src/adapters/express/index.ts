import { IncomingMessage, type ServerResponse } from 'node:http'
import type { Sessions } from '../../core/manager.js'
import type { RequestSession } from '../../core/request.js'
import type { SessionView } from '../../core/view.js'
import { basePrototype, commitBeforeEnd, heldSession, nodeRequestInfo, sendFailure } from '../node/lifecycle.js'

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
type SessionReq = IncomingMessage & { session?: SessionView; res?: ServerResponse; [lifecycle]?: RequestSession }

/**
 * The request's session, found through its response (Express links them as `req.res`), so
 * nothing is added to the request object; `req[lifecycle]` only where there is no such link.
 */
function requestSession(req: SessionReq): RequestSession | undefined {
  return heldSession(req.res) ?? req[lifecycle]
}

const withAccessors = new WeakSet<object>()
const accessors: PropertyDescriptorMap = {
  // `req.sessionID` follows `regenerate()`, so it is a getter.
  sessionID: {
    get(this: SessionReq) {
      return requestSession(this)?.session.id
    },
    // express-session, in another app of the same process, assigns it.
    set(this: SessionReq, value: unknown) {
      Object.defineProperty(this, 'sessionID', { value, writable: true, configurable: true, enumerable: true })
    },
    configurable: true,
  },
  session: {
    get(this: SessionReq) {
      return requestSession(this)?.view
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
  function start(req: SessionReq, res: ServerResponse, rs: RequestSession, next: Next): void {
    commitBeforeEnd(sessions, rs, res)
    if (req.res !== res) req[lifecycle] = rs
    exposeAccessors(req)
    next()
  }
  return function sessionMiddleware(req: IncomingMessage, res: ServerResponse, next: Next): void {
    const sreq = req as SessionReq
    if (heldSession(res) || sreq[lifecycle] || Object.hasOwn(sreq, 'session')) return next()
    // Express's own `req.secure` honours its `trust proxy` setting: asked only when a cookie is written.
    const info = nodeRequestInfo(req, true)
    // A near-cache hit goes on in this tick; anything else (a miss, no session) after the store.
    let opened: RequestSession | Promise<RequestSession>
    try {
      opened = sessions.begin(info)
    } catch (error) {
      return sendFailure(res, error)
    }
    if (!(opened instanceof Promise)) return start(sreq, res, opened, next)
    opened.then(
      (rs) => start(sreq, res, rs, next),
      (error: unknown) => sendFailure(res, error),
    )
  }
}

export type { SessionView }
