// The sessionmesh benchmark servers, whatever the store: Express 5 or Fastify 5, the session
// adapter and the routes every server answers alike. SESSIONMESH_ROOT (set by the runner)
// points at a tsc build of src/; without it, src/ runs.
import express, { type Express } from 'express'
import Fastify, { type FastifyInstance } from 'fastify'
import type * as Api from '../../src/index.js'
import type * as ExpressAdapter from '../../src/adapters/express/index.js'
import type * as FastifyAdapter from '../../src/adapters/fastify/index.js'
import { loadSessionmesh } from '../lib/build.js'
import { loggedIn, userNumber } from './cart.js'
import { listenAndAnnounce, listenFastifyAndAnnounce } from './listen.js'

/** Imports a module of sessionmesh from the build the runner made (SESSIONMESH_ROOT), or from src/. */
export const load = <T>(path: string): Promise<T> => loadSessionmesh<T>(path)

export type MakeStore = (api: typeof Api) => Promise<Api.SessionStore> | Api.SessionStore

/** More manager options (the change bus and near cache), made from the loaded API. */
export type MoreOptions = (api: typeof Api) => Partial<Api.SessionsOptions>

async function createSessions(makeStore: MakeStore, more?: MoreOptions): Promise<Api.Sessions> {
  const api = await load<typeof Api>('index.js')
  return api.createSessions({
    ...more?.(api),
    store: await makeStore(api),
    secret: 'bench-secret-bench-secret-bench-secret-0123',
    // No background sweeps during measurements (nothing expires in a benchmark run anyway).
    sweepInterval: false,
  })
}

/** Express 5 + sessionmesh with the benchmark routes, not yet listening. */
export async function createExpressApp(makeStore: MakeStore, more?: MoreOptions): Promise<{ app: Express; close: () => Promise<void> }> {
  const sessions = await createSessions(makeStore, more)
  const { session } = await load<typeof ExpressAdapter>('adapters/express/index.js')
  const app = express()
  app.use(session(sessions))

  app.post('/login', (req, res) => {
    req.session.user = 'alice'
    res.json({ user: 'alice' })
  })
  app.post('/login-cart', (req, res) => {
    const s = loggedIn(userNumber(req.query))
    req.session.user = s.user
    req.session.principal = s.principal
    req.session.cart = s.cart
    res.json({ ok: true })
  })
  app.get('/', (req, res) => {
    const user = req.session.user as string | undefined
    if (!user) res.status(401).json({ error: 'no session' })
    else res.json({ user })
  })
  app.post('/incr', (req, res) => {
    if (!req.session.user) {
      res.status(401).json({ error: 'no session' })
      return
    }
    const n = ((req.session.n as number | undefined) ?? 0) + 1
    req.session.n = n
    res.json({ n })
  })
  // Last, so the measured routes never test their path against it; the runner reads it
  // after the run (null without a near cache).
  app.get('/__nearcache', (_req, res) => {
    res.json(sessions.nearCacheStats())
  })
  return { app, close: () => sessions.close() }
}

/** Serves the benchmark routes with Express and sessionmesh on `store` (made from the loaded API). */
export async function serve(makeStore: MakeStore, more?: MoreOptions): Promise<void> {
  const { app, close } = await createExpressApp(makeStore, more)
  listenAndAnnounce(app, close)
}

/** Fastify 5 + sessionmesh's Fastify plugin with the same routes and answers. */
export async function createFastifyApp(makeStore: MakeStore): Promise<{ app: FastifyInstance; close: () => Promise<void> }> {
  const sessions = await createSessions(makeStore)
  const { session } = await load<typeof FastifyAdapter>('adapters/fastify/index.js')
  const app = Fastify()
  await app.register(session(sessions))

  app.post('/login', async (request) => {
    request.session.user = 'alice'
    return { user: 'alice' }
  })
  app.get('/', async (request, reply) => {
    const user = request.session.user as string | undefined
    if (!user) return reply.code(401).send({ error: 'no session' })
    return { user }
  })
  app.post('/incr', async (request, reply) => {
    if (!request.session.user) return reply.code(401).send({ error: 'no session' })
    const n = ((request.session.n as number | undefined) ?? 0) + 1
    request.session.n = n
    return { n }
  })
  return { app, close: () => sessions.close() }
}

export async function serveFastify(makeStore: MakeStore): Promise<void> {
  const { app, close } = await createFastifyApp(makeStore)
  await listenFastifyAndAnnounce(app, close)
}
