import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Sessions } from '../../core/manager.js'
import type { SessionView } from '../../core/view.js'
import { commitBeforeEnd, nodeRequestInfo, responseEnding, sendFailure } from './lifecycle.js'

export type SessionRequest = IncomingMessage & { session: SessionView; sessionID: string }

/**
 * Wraps a plain node:http handler: `req.session` is loaded before it runs and saved before
 * the response ends.
 *
 * @example
 * import { createServer } from 'node:http'
 * import { withSession } from 'sessionmesh/node'
 * createServer(withSession(sessions, (req, res) => {
 *   req.session.visits = (req.session.visits ?? 0) + 1
 *   res.end(`visit ${req.session.visits}`)
 * })).listen(3000)
 */
export function withSession(
  sessions: Sessions,
  handler: (req: SessionRequest, res: ServerResponse) => void | Promise<void>,
): (req: IncomingMessage, res: ServerResponse) => void {
  return function sessionHandler(req, res) {
    sessions.open(nodeRequestInfo(req)).then(
      (rs) => {
        commitBeforeEnd(sessions, rs, res)
        const ending = () => responseEnding(res)
        const sreq = req as SessionRequest
        sreq.session = rs.view
        Object.defineProperty(sreq, 'sessionID', { get: () => rs.session.id, configurable: true })
        Promise.resolve()
          .then(() => handler(sreq, res))
          .catch((error: unknown) => {
            sessions.events.reportError(error as Error)
            // Typed session errors answer with their status (413 for a session over maxSize), others 500.
            if (!res.headersSent && !ending()) sendFailure(res, error)
            else if (!ending()) res.destroy()
          })
      },
      (error: unknown) => sendFailure(res, error),
    )
  }
}

export type { SessionView }
