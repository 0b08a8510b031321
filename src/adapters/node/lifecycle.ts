import type { IncomingMessage, ServerResponse } from 'node:http'
import { failureResponse } from '../../core/failure.js'
import type { Sessions } from '../../core/manager.js'
import type { RequestInfo, RequestSession } from '../../core/request.js'

/** RequestInfo over a node:http request. */
export function nodeRequestInfo(req: IncomingMessage): RequestInfo {
  return {
    header: (name) => {
      const v = req.headers[name]
      return Array.isArray(v) ? v.join(', ') : v
    },
    encrypted: Boolean((req.socket as { encrypted?: boolean }).encrypted),
  }
}

/** Sends the session layer's failure answer (503 when the store is down). */
export function sendFailure(res: ServerResponse, error: unknown): void {
  const f = failureResponse(error)
  if (res.headersSent) {
    res.destroy(error instanceof Error ? error : undefined)
    return
  }
  res.writeHead(f.status, f.headers).end(f.body)
}

/**
 * Makes `res.end` wait for the session commit, so nothing the handler sends (a redirect
 * above all) reaches the client before the save is done, and adds the session headers.
 * A handler that streams (writeHead/write before end) gets its headers at writeHead time;
 * its last chunk still waits for the save.
 */
export function commitBeforeEnd(sessions: Sessions, rs: RequestSession, res: ServerResponse): void {
  const end = res.end
  const writeHead = res.writeHead
  let headersAdded = false
  const addHeaders = () => {
    if (headersAdded || res.headersSent) return
    headersAdded = true
    for (const [name, value] of rs.responseHeaders()) res.appendHeader(name, value)
  }
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    addHeaders()
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args)
  } as typeof res.writeHead
  let ending = false
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    if (ending) return (end as (...a: unknown[]) => ServerResponse).apply(this, args)
    ending = true
    rs.commit().then(
      () => {
        addHeaders()
        ;(end as (...a: unknown[]) => ServerResponse).apply(res, args)
      },
      (error: unknown) => {
        sessions.events.reportError(error as Error)
        if (res.headersSent) {
          ;(end as (...a: unknown[]) => ServerResponse).apply(res, args)
          return
        }
        const f = failureResponse(error)
        for (const name of res.getHeaderNames()) res.removeHeader(name)
        headersAdded = true
        ;(end as (...a: unknown[]) => ServerResponse).call(res.writeHead(f.status, f.headers), f.body)
      },
    )
    return this
  } as typeof res.end
}
