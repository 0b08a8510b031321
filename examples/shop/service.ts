/**
 * What every service instance shares: an Express app on sessionmesh, `X-Served-By`, strict
 * JSON errors, an internal event feed and stats for the dashboard, and a clean shutdown.
 * Each file in services/ is one service and calls `runService` with its routes.
 */
import type { ServerResponse } from 'node:http'
import express, { type NextFunction, type Request, type Response } from 'express'
import { failureResponse, SessionMeshError, type Sessions, type SessionEventMap } from '../../src/index.js'
import { session } from '../../src/adapters/express/index.js'
import type { ServiceName } from './catalog.js'
import { sessionRef, shopSessions } from './sessions.js'

export interface ServiceContext {
  sessions: Sessions
  /** e.g. `cart-2`. */
  instance: string
}

/** One event as the dashboard sees it: ids replaced by refs, values never included. */
export interface FeedEvent {
  type: string
  instance: string
  at: number
  ref?: string
  previousRef?: string
  principal?: string | null
  reason?: string
  keys?: string[]
  outcome?: string
  waitedMs?: number
}

/** How long a session counts as "on" an instance after it served a request for it. */
const SEEN_WINDOW_MS = 10 * 60_000
const FORWARDED = ['created', 'destroyed', 'expired', 'id-changed', 'updated', 'lock'] as const

/** The signed-in user of this request, or undefined after answering 401. */
export function requireUser(req: Request, res: Response): string | undefined {
  const user: unknown = req.session.get('user')
  if (typeof user === 'string' && req.session.principal) return user
  res.status(401).json({ error: 'not logged in' })
  return undefined
}

/** The JSON body if it is a plain object, else undefined after answering 400. */
export function jsonObject(req: Request, res: Response): Record<string, unknown> | undefined {
  const body: unknown = req.body
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) return body as Record<string, unknown>
  res.status(400).json({ error: 'expected a JSON object body (content-type: application/json)' })
  return undefined
}

export function runService(name: ServiceName, routes: (app: express.Express, ctx: ServiceContext) => void): void {
  const instance = `${name}-${process.env.INSTANCE ?? process.pid}`
  const { sessions, metrics } = shopSessions()
  const feeds = new Set<ServerResponse>()
  const seen = new Map<string, number>()
  let requests = 0

  for (const type of FORWARDED) {
    sessions.events.on(type, (e: SessionEventMap[typeof type][0]) => {
      // With a change bus (Redis), other instances' events arrive here too, marked with their
      // origin; the dashboard merges every instance's own feed, so those are left out.
      if ('origin' in e) return
      const out: FeedEvent = { type, instance, at: e.at, ref: sessionRef(e.id) }
      if ('principal' in e) out.principal = e.principal
      if ('reason' in e) out.reason = e.reason
      if ('keys' in e) out.keys = e.keys
      if ('previousId' in e) out.previousRef = sessionRef(e.previousId)
      if ('outcome' in e) Object.assign(out, { outcome: e.outcome, waitedMs: e.waitedMs })
      const line = `data: ${JSON.stringify(out)}\n\n`
      for (const res of feeds) res.write(line)
    })
  }
  // A background failure (a sweep while the store restarts) is logged, not fatal.
  sessions.events.on('error', (e) => console.error(`${instance}: ${e.message}`))

  const app = express()
  app.disable('x-powered-by')
  app.use((_req, res, next) => {
    res.setHeader('X-Served-By', instance)
    res.setHeader('Cache-Control', 'no-store')
    requests++
    next()
  })

  // Internal endpoints, before the session middleware: they carry no session, and the
  // gateway never proxies /internal, so browsers cannot reach them.
  app.get('/internal/events', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', connection: 'keep-alive' })
    res.write(': connected\n\n')
    feeds.add(res)
    req.on('close', () => feeds.delete(res))
  })
  app.get('/internal/metrics', metrics.handler())
  app.get('/internal/stats', (_req, res) => {
    const cutoff = Date.now() - SEEN_WINDOW_MS
    for (const [ref, at] of seen) if (at < cutoff) seen.delete(ref)
    // Null without a near cache (the SQLite default): the dashboard shows "n/a".
    res.json({ instance, pid: process.pid, requests, seen: [...seen.keys()], nearCache: sessions.nearCacheStats() })
  })

  app.use(express.json({ limit: '16kb' }))
  app.use(session(sessions))
  app.use((req, res, next) => {
    // Read when the response is done: a login has its new id and principal by then.
    res.on('finish', () => {
      if (req.session?.principal && !req.session.destroyed) seen.set(sessionRef(req.session.id), Date.now())
    })
    next()
  })

  routes(app, { sessions, instance })

  app.use((_req, res) => {
    res.status(404).json({ error: 'no such endpoint' })
  })
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return
    const { status, body } = answer(err)
    if (status >= 500) console.error(`${instance}:`, err)
    res.status(status).type('json').send(body)
  })

  const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    const address = server.address()
    process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`)
  })

  let stopping = false
  const stop = () => {
    if (stopping) return
    stopping = true
    for (const res of feeds) res.end()
    server.close(() => {
      sessions.close().then(
        () => process.exit(0),
        () => process.exit(1),
      )
    })
    // Keep-alive connections from the gateway would hold close() open.
    server.closeAllConnections()
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  // The supervisor is gone (even killed with SIGKILL): do not live on as an orphan.
  process.on('disconnect', stop)
}

/** A failure as an HTTP answer: the session layer's own status, 400 for bad input, 401 for a vanished session. */
function answer(err: unknown): { status: number; body: string } {
  if (err instanceof SessionMeshError) {
    // Revoked or destroyed elsewhere while this request ran: to the client, that is "logged out".
    if (err.code === 'SESSION_NOT_FOUND' || err.code === 'SESSION_DESTROYED') {
      return { status: 401, body: JSON.stringify({ error: 'not logged in', code: err.code }) }
    }
    const { status, body } = failureResponse(err)
    return { status, body }
  }
  // body-parser's errors (bad JSON, too large, bad charset) carry a 4xx `status`.
  const status = (err as { status?: unknown } | null)?.status
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { status: status === 413 ? 413 : 400, body: JSON.stringify({ error: 'malformed request body' }) }
  }
  return { status: 500, body: JSON.stringify({ error: 'internal error' }) }
}
