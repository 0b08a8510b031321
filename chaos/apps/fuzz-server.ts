/**
 * The five adapters (express, fastify, koa, hono, node:http) in one OS process for the fuzz
 * fault, each on its own port over its own memory-store manager (header tokens on, 4 KiB
 * session limit). Prints `listening <adapter> <port>` for each.
 *
 *   GET  /get?k=NAME   {has}
 *   POST /incr         n = n + 1, or 1 when n is not a number (property style)  {n}
 *   POST /body         a JSON body; up to 20 of its top-level fields (names of 1-200 characters) stored as attributes
 * Malformed JSON is the app's 400; errors from the session layer are answered by each adapter
 * (or failureResponse). A 5xx, an exit, an `error` event or an uncaught exception is a finding.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import express, { type NextFunction, type Request, type Response } from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import Koa from 'koa'
import { session as expressSession } from '../../src/adapters/express/index.js'
import { session as fastifySession } from '../../src/adapters/fastify/index.js'
import { session as honoSession, type SessionVariables } from '../../src/adapters/hono/index.js'
import { session as koaSession } from '../../src/adapters/koa/index.js'
import { type SessionRequest, withSession } from '../../src/adapters/node/index.js'
import { createSessions, failureResponse, memoryStore, SessionMeshError, type SessionView } from '../../src/index.js'

const SECRET = 'chaos-fuzz-secret-0123456789abcdef0123456789'
const errorEvents: Record<string, number> = {}
const manager = () => {
  const s = createSessions({ store: memoryStore(), secret: SECRET, header: true, maxSize: 4096, sweepInterval: false })
  s.events.on('error', (e) => {
    errorEvents[e.name] = (errorEvents[e.name] ?? 0) + 1
    if (e.name !== 'SessionTooLargeError') process.stderr.write(`error event: ${e.name}: ${e.message.slice(0, 100)}\n`)
  })
  return s
}

/** Stores up to 20 top-level fields of a JSON object body; anything else is ignored. */
function storeBody(session: SessionView, body: unknown): number {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 0
  // As an app that validates input would: attribute names of 1-200 characters only.
  const entries = Object.entries(body as Record<string, unknown>)
    .filter(([k]) => k.length > 0 && k.length <= 200)
    .slice(0, 20)
  for (const [k, v] of entries) session.set(k, v)
  return entries.length
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}
const parse = (text: string): { ok: true; value: unknown } | { ok: false } => {
  try {
    return { ok: true, value: JSON.parse(text) as unknown }
  } catch {
    return { ok: false }
  }
}
/** n + 1; the fuzz stores anything under `n` (objects whose toString is a string...), so only a number counts. */
const count = (n: unknown) => (typeof n === 'number' ? n + 1 : 1)
const q = (url: string | undefined, k: string) => new URL(url ?? '/', 'http://x').searchParams.get(k) ?? ''
const print = (name: string, port: number) => process.stdout.write(`listening ${name} ${port}\n`)

// express
{
  const app = express()
  app.set('env', 'production')
  app.use(expressSession(manager()))
  app.use(express.json({ limit: '64kb', strict: false }))
  app.get('/get', (req, res) => void res.json({ has: req.session.has(q(req.url, 'k')) }))
  app.post('/incr', (req, res) => {
    req.session.n = count(req.session.n)
    res.json({ n: req.session.n as unknown })
  })
  app.post('/body', (req, res) => void res.json({ stored: storeBody(req.session, req.body) }))
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: unknown }).status
    // body-parser's own 4xx (bad JSON, too large, bad charset) as it says; the rest as the session layer would.
    if (!(err instanceof SessionMeshError) && typeof status === 'number' && status < 500) {
      res.status(status).json({ error: 'bad request' })
      return
    }
    const f = failureResponse(err)
    res.status(f.status).set(f.headers).send(f.body)
  })
  const server = createServer(app).listen(0, '127.0.0.1', () => print('express', (server.address() as AddressInfo).port))
}

// fastify
{
  const app = Fastify({ bodyLimit: 65536 })
  await app.register(fastifySession(manager()))
  app.get('/get', async (request) => ({ has: request.session.has(q(request.url, 'k')) }))
  app.post('/incr', async (request) => {
    request.session.n = count(request.session.n)
    return { n: request.session.n as unknown }
  })
  app.post('/body', async (request) => ({ stored: storeBody(request.session, request.body) }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  print('fastify', (app.server.address() as AddressInfo).port)
}

// koa
{
  const app = new Koa()
  app.on('error', () => {})
  app.use(koaSession(manager()))
  app.use(async (ctx) => {
    const route = `${ctx.method} ${ctx.path}`
    if (route === 'GET /get') ctx.body = { has: ctx.session.has(q(ctx.url, 'k')) }
    else if (route === 'POST /incr') {
      ctx.session.n = count(ctx.session.n)
      ctx.body = { n: ctx.session.n as unknown }
    } else if (route === 'POST /body') {
      const parsed = parse(await readBody(ctx.req))
      if (!parsed.ok) {
        ctx.status = 400
        ctx.body = { error: 'bad json' }
        return
      }
      ctx.body = { stored: storeBody(ctx.session, parsed.value) }
    }
  })
  const handle = app.callback()
  const server = createServer((req, res) => void handle(req, res)).listen(0, '127.0.0.1', () => print('koa', (server.address() as AddressInfo).port))
}

// hono
{
  const app = new Hono<{ Variables: SessionVariables }>()
  app.use(honoSession(manager()))
  app.get('/get', (c) => c.json({ has: c.var.session.has(q(c.req.url, 'k')) }))
  app.post('/incr', (c) => {
    const s = c.var.session
    s.n = count(s.n)
    return c.json({ n: s.n as unknown })
  })
  app.post('/body', async (c) => {
    const parsed = parse(await c.req.text())
    if (!parsed.ok) return c.json({ error: 'bad json' }, 400)
    return c.json({ stored: storeBody(c.var.session, parsed.value) })
  })
  await new Promise<void>((resolve) => {
    serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
      print('hono', info.port)
      resolve()
    })
  })
}

// node:http
{
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.statusCode = status
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify(body))
  }
  const handler = async (req: SessionRequest, res: ServerResponse): Promise<void> => {
    const s = req.session
    const route = `${req.method} ${new URL(req.url ?? '/', 'http://x').pathname}`
    if (route === 'GET /get') return json(res, 200, { has: s.has(q(req.url, 'k')) })
    if (route === 'POST /incr') {
      s.n = count(s.n)
      return json(res, 200, { n: s.n as unknown })
    }
    if (route === 'POST /body') {
      const parsed = parse(await readBody(req))
      if (!parsed.ok) return json(res, 400, { error: 'bad json' })
      return json(res, 200, { stored: storeBody(s, parsed.value) })
    }
    json(res, 404, { error: 'not found' })
  }
  const server = createServer(withSession(manager(), handler)).listen(0, '127.0.0.1', () => print('node', (server.address() as AddressInfo).port))
}

process.on('uncaughtException', (e) => {
  process.stderr.write(`uncaughtException: ${e.stack ?? String(e)}\n`)
  process.exit(70)
})
process.on('unhandledRejection', (e) => {
  process.stderr.write(`unhandledRejection: ${e instanceof Error ? e.stack : String(e)}\n`)
  process.exit(71)
})
process.on('SIGTERM', () => {
  process.stderr.write(`error events by name: ${JSON.stringify(errorEvents)}\n`)
  process.exit(0)
})
