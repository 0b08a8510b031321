import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Sessions } from '../../core/manager.js'
import type { RequestSession } from '../../core/request.js'
import type { SessionView } from '../../core/view.js'
import { commitBeforeEnd, nodeRequestInfo, sendFailure } from '../node/lifecycle.js'

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
    if ((req as { session?: unknown }).session) return next()
    const info = nodeRequestInfo(req)
    // Express's own `req.secure` honours its `trust proxy` setting; respect it when set.
    if ((req as { secure?: boolean }).secure) info.encrypted = true
    sessions.open(info).then(
      (rs: RequestSession) => {
        commitBeforeEnd(sessions, rs, res)
        Object.defineProperty(req, 'session', { value: rs.view, writable: true, configurable: true, enumerable: true })
        Object.defineProperty(req, 'sessionID', { get: () => rs.session.id, configurable: true })
        next()
      },
      (error: unknown) => sendFailure(res, error),
    )
  }
}

export type { SessionView }
