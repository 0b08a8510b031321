/**
 * One instance of the demo shop: Express + sessionmesh on the shared SQLite file, or on
 * Redis when SESSIONMESH_STORE is a redis:// URL. Several of these run as separate OS
 * processes (see start.ts) and share every session.
 */
import express from 'express'
import { createSessions } from '../../src/index.js'
import { session } from '../../src/adapters/express/index.js'
import { redisStore } from '../../src/stores/redis/index.js'
import { sqliteStore } from '../../src/stores/sqlite/index.js'
import { page } from './page.js'

const port = Number(process.env.PORT ?? 3000)
const instance = process.env.INSTANCE ?? String(process.pid)
const secret = process.env.SESSION_SECRET ?? 'demo-only-secret-change-me-0123456789abcdef'
const accounts: Record<string, string> = { alice: 'alice-pw', bob: 'bob-pw' }

const redisUrl = process.env.SESSIONMESH_STORE?.startsWith('redis') ? process.env.SESSIONMESH_STORE : undefined
const sessions = createSessions({
  store: redisUrl ? redisStore({ url: redisUrl, prefix: 'shop:' }) : sqliteStore({ path: process.env.SESSIONMESH_SQLITE ?? '.data/sessions.db' }),
  secret: [secret],
  idleTimeout: '30m',
  absoluteTimeout: '12h',
})

const app = express()
app.disable('x-powered-by')
app.use((_req, res, next) => {
  res.setHeader('X-Served-By', `shop-${instance}`)
  next()
})
app.use(express.json({ limit: '16kb' }))
app.use(session(sessions))

app.get('/', (_req, res) => {
  res.type('html').send(page(instance))
})

app.post('/api/auth/login', async (req, res) => {
  const { username, password } = (req.body ?? {}) as { username?: unknown; password?: unknown }
  if (typeof username !== 'string' || typeof password !== 'string') return void res.status(400).json({ error: 'username and password required' })
  if (accounts[username] !== password) return void res.status(401).json({ error: 'bad credentials' })
  await req.session.regenerate() // fixation defence
  req.session.principal = `user:${username}`
  req.session.user = username
  req.session.userAgent = req.get('user-agent') ?? 'unknown'
  res.json({ user: username })
})

app.get('/api/auth/me', (req, res) => {
  if (!req.session.user) return void res.status(401).json({ error: 'not logged in' })
  res.json({ user: req.session.user as string })
})

app.post('/api/auth/logout', async (req, res) => {
  await req.session.destroy()
  res.json({ ok: true })
})

app.post('/api/auth/logout-all', async (req, res) => {
  const principal = req.session.principal
  if (!principal) return void res.status(401).json({ error: 'not logged in' })
  res.json({ revoked: await sessions.revokePrincipal(principal) })
})

app.get('/api/cart', (req, res) => {
  if (!req.session.user) return void res.status(401).json({ error: 'not logged in' })
  const items = (req.session.cart ?? []) as Array<{ sku: string; qty: number }>
  res.json({ items, count: items.reduce((n, i) => n + i.qty, 0) })
})

app.post('/api/cart/items', (req, res) => {
  if (!req.session.user) return void res.status(401).json({ error: 'not logged in' })
  const { sku, qty } = (req.body ?? {}) as { sku?: unknown; qty?: unknown }
  if (typeof sku !== 'string' || !Number.isInteger(qty) || (qty as number) < 1) return void res.status(400).json({ error: 'sku and positive integer qty required' })
  const items = (req.session.cart ?? []) as Array<{ sku: string; qty: number }>
  items.push({ sku, qty: qty as number })
  req.session.cart = items
  res.json({ items, count: items.reduce((n, i) => n + i.qty, 0) })
})

app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
  const status = (err as { status?: number }).status ?? 500
  res.status(status >= 400 && status < 500 ? status : 500).json({ error: status < 500 ? 'bad request' : 'internal error' })
})

const server = app.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${port}\n`)
})

const stop = () => {
  server.close(() => void sessions.close().then(() => process.exit(0)))
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
