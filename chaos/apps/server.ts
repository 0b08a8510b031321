/**
 * The app under fault: Express + createSessions in its own OS process, so a crash is a real
 * exit the runner sees. Configured by environment variables; prints `listening <port>`.
 *
 *   STORE        redis:<url> | sentinel:<name>@<host:port,...> | cluster:<host:port,...> | sqlite:<path>
 *   DURABILITY   async (default) | replicated      (Redis only; replicated = WAIT 1, 500 ms)
 *   WAIT_MS      replicated's WAIT timeout (default 500); COMMAND_TIMEOUT the store's commandTimeout (default its own, 2s)
 *   PREFIX       Redis key prefix (default chaos:)
 *   IDLE_TIMEOUT idle timeout (default 30m); SWEEP_INTERVAL sweep period or 'off' (default off)
 *
 * Routes (each answers JSON):
 *   POST /login?user=U   regenerate(), principal user:U                 {id}
 *   POST /set?k=K&v=JSON  one attribute                                 {id}
 *   GET  /get?k=K        {value, has}
 *   POST /incr           atomic increment of n in the store               {n}
 *   GET  /all            every attribute                                  {attributes}
 *   POST /logout         destroy()                                        {ok}
 *   GET  /__stats        forced GC twice, then heap, handles, resources, event counts
 *   GET  /ping           no session at all                                {ok}
 * A failure of the session layer is answered by failureResponse (503 + Retry-After when the
 * store is down); any other error is a 500 and is counted.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express'
import { session } from '../../src/adapters/express/index.js'
import { createSessions, type Duration, failureResponse, type SessionStore } from '../../src/index.js'
import { redisStore } from '../../src/stores/redis/index.js'
import { sqliteStore } from '../../src/stores/sqlite/index.js'

const SECRET = 'chaos-runner-secret-0123456789abcdef0123'

function storeFrom(spec: string): SessionStore {
  const colon = spec.indexOf(':')
  const kind = spec.slice(0, colon)
  const target = spec.slice(colon + 1)
  const durability = process.env.DURABILITY === 'replicated' ? { replicas: 1, timeoutMs: Number(process.env.WAIT_MS ?? 500) } : ('async' as const)
  const prefix = process.env.PREFIX ?? 'chaos:'
  const commandTimeout = process.env.COMMAND_TIMEOUT as Duration | undefined
  if (kind === 'sqlite') return sqliteStore({ path: target })
  if (kind === 'redis') return redisStore({ url: target, prefix, durability, ...(commandTimeout ? { commandTimeout } : {}) })
  if (kind === 'cluster') {
    return redisStore({ cluster: { rootNodes: target.split(',').map((hp) => ({ url: `redis://${hp}` })) }, prefix, durability })
  }
  if (kind === 'sentinel') {
    const [name = '', hosts = ''] = target.split('@')
    const sentinelRootNodes = hosts.split(',').map((hp) => ({ host: hp.split(':')[0] ?? '', port: Number(hp.split(':')[1]) }))
    return redisStore({ sentinel: { name, sentinelRootNodes }, prefix, durability })
  }
  throw new Error(`STORE must be redis:, sentinel:, cluster: or sqlite:, not ${JSON.stringify(spec)}`)
}

const counts = { errorEvents: 0, internalErrors: 0, expired: 0, created: 0, destroyed: 0 }
const sessions = createSessions({
  store: storeFrom(process.env.STORE ?? ''),
  secret: SECRET,
  idleTimeout: (process.env.IDLE_TIMEOUT ?? '30m') as Duration,
  sweepInterval: !process.env.SWEEP_INTERVAL || process.env.SWEEP_INTERVAL === 'off' ? false : (process.env.SWEEP_INTERVAL as Duration),
})
sessions.events.on('error', () => counts.errorEvents++)
sessions.events.on('expired', () => counts.expired++)
sessions.events.on('created', () => counts.created++)
sessions.events.on('destroyed', () => counts.destroyed++)

const h =
  (fn: (req: Request, res: Response) => unknown): RequestHandler =>
  (req, res, next) => {
    Promise.resolve()
      .then(() => fn(req, res))
      .catch(next)
  }
const q = (req: Request, name: string): string => {
  const v = req.query[name]
  return typeof v === 'string' ? v : ''
}

const app = express()
app.set('env', 'production')
app.set('etag', false)
app.get('/__stats', (_req, res) => {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  gc?.()
  const resources: Record<string, number> = {}
  for (const r of process.getActiveResourcesInfo()) resources[r] = (resources[r] ?? 0) + 1
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length
  res.json({ heapUsed: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss, gc: Boolean(gc), handles, resources, ...counts })
})
// Never touches the session: a bystander route, to see whether the store's trouble reaches it.
app.get('/ping', (_req, res) => {
  res.json({ ok: true })
})
app.use(session(sessions))
app.post('/login', h(async (req, res) => {
  await req.session.regenerate()
  req.session.principal = `user:${q(req, 'user')}`
  req.session.user = q(req, 'user')
  res.json({ id: req.session.id })
}))
app.post('/set', h((req, res) => {
  req.session[q(req, 'k')] = JSON.parse(q(req, 'v')) as unknown
  res.json({ id: req.session.id })
}))
app.get('/get', h((req, res) => {
  const k = q(req, 'k')
  res.json({ value: (req.session[k] as unknown) ?? null, has: req.session.has(k) })
}))
app.post('/incr', h(async (req, res) => {
  res.json({ n: await req.session.increment('n') })
}))
app.get('/all', h((req, res) => {
  res.json({ id: req.session.id, attributes: req.session.toJSON() })
}))
app.post('/logout', h(async (req, res) => {
  await req.session.destroy()
  res.json({ ok: true })
}))
app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
  const f = failureResponse(err)
  if (f.status >= 500 && f.status !== 503) {
    counts.internalErrors++
    process.stderr.write(`internal error: ${err instanceof Error ? err.stack : String(err)}\n`)
  }
  res.status(f.status).set(f.headers).send(f.body)
})

process.on('uncaughtException', (e) => {
  process.stderr.write(`uncaughtException: ${e.stack ?? String(e)}\n`)
  process.exit(70)
})
process.on('unhandledRejection', (e) => {
  process.stderr.write(`unhandledRejection: ${e instanceof Error ? e.stack : String(e)}\n`)
  process.exit(71)
})

const server = createServer(app)
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`))
process.on('SIGTERM', () => {
  server.close()
  server.closeAllConnections()
  void sessions.close().then(() => process.exit(0))
})
