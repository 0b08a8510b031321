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
 * `writeHead` only records the status and headers until the response is really sent, so
 * `res.writeHead(302, { location }).end()` still gets the cookie of a session created by
 * this request. A handler that streams (write before end) gets its headers when the first
 * chunk goes out; its last chunk still waits for the save.
 *
 * Returns whether `end` has been called (the response is then on its way).
 */
export function commitBeforeEnd(sessions: Sessions, rs: RequestSession, res: ServerResponse): () => boolean {
  const end = res.end.bind(res) as (...a: unknown[]) => ServerResponse
  const writeHead = res.writeHead.bind(res) as (...a: unknown[]) => ServerResponse
  const write = res.write.bind(res) as (...a: unknown[]) => boolean
  const flushHeaders = res.flushHeaders.bind(res)
  let headersAdded = false
  /** The real head may go out: the save is done, or the handler streams. */
  let sending = false
  let ending = false
  const addHeaders = () => {
    if (headersAdded || res.headersSent) return
    headersAdded = true
    for (const [name, value] of rs.responseHeaders()) res.appendHeader(name, value)
  }
  const startSending = () => {
    sending = true
    addHeaders()
  }
  res.writeHead = (...args: unknown[]) => {
    if (sending || res.headersSent || !holdHead(res, args)) {
      addHeaders()
      return writeHead(...args)
    }
    return res
  }
  res.write = ((...args: unknown[]) => {
    if (!res.headersSent) startSending()
    return write(...args)
  }) as typeof res.write
  res.flushHeaders = () => {
    startSending()
    flushHeaders()
  }
  const fail = (error: unknown, args: unknown[]) => {
    sessions.events.reportError(error as Error)
    sending = true
    if (res.headersSent) {
      end(...args)
      return
    }
    const f = failureResponse(error)
    for (const name of res.getHeaderNames()) res.removeHeader(name)
    headersAdded = true
    res.statusMessage = '' // a reason held from the handler's writeHead is not this answer's
    writeHead(f.status, f.headers)
    end(f.body)
  }
  res.end = ((...args: unknown[]) => {
    // A second `end` while the first waits for the save changes nothing (as on an ended response).
    if (ending) return res
    ending = true
    rs.commit().then(
      () => {
        try {
          startSending()
        } catch (error) {
          return fail(error, args) // the session headers could not be made (a cookie option serialize refuses)
        }
        end(...args)
      },
      (error: unknown) => fail(error, args),
    )
    return res
  }) as typeof res.end
  return () => ending
}

/**
 * Applies `writeHead(status[, reason][, headers])` to the response without sending it.
 * False (nothing done) for arguments only the real writeHead should judge (it throws).
 */
function holdHead(res: ServerResponse, args: unknown[]): boolean {
  const [status, second, third] = args
  const reason = typeof second === 'string' ? second : undefined
  const headers = typeof second === 'string' ? third : second
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 999) return false
  if (headers !== undefined && headers !== null && typeof headers !== 'object') return false
  if (Array.isArray(headers)) {
    const pairs = headers.length > 0 && Array.isArray(headers[0]) ? (headers as unknown[][]) : chunk(headers)
    if (!pairs) return false
    for (const [name, value] of pairs) res.appendHeader(String(name), value as string | string[])
  } else if (headers) {
    for (const [name, value] of Object.entries(headers)) if (value !== undefined) res.setHeader(name, value as string)
  }
  res.statusCode = status
  if (reason !== undefined) res.statusMessage = reason
  return true
}

/** [k1, v1, k2, v2] as [[k1, v1], [k2, v2]]; null if the length is odd. */
function chunk(flat: unknown[]): unknown[][] | null {
  if (flat.length % 2 !== 0) return null
  const out: unknown[][] = []
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i], flat[i + 1]])
  return out
}
