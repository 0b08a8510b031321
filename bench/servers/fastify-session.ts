// Fastify 5 + @fastify/cookie + @fastify/session with its default MemoryStore, in its
// documented configuration: only `cookie.secure: false` (its default `true` sends no cookie
// over plain HTTP) and `saveUninitialized: false` (as for express-session); `rolling` stays at
// its default `true` (the cookie is re-sent and the session saved on every request). Same
// routes and answers as sessionmesh-fastify.ts.
import fastifyCookie from '@fastify/cookie'
import Fastify, { type FastifyPluginCallback, type FastifyRequest } from 'fastify'
import { listenFastifyAndAnnounce } from './listen.js'

// @fastify/session types `request.session` as its own object, and so does sessionmesh's Fastify
// adapter; both augmentations in one program clash, so the plugin is imported untyped here.
const SESSION_PLUGIN = '@fastify/session'
const fastifySession = ((await import(SESSION_PLUGIN)) as { default: FastifyPluginCallback<Record<string, unknown>> }).default

interface SessionObject {
  get(key: string): unknown
  set(key: string, value: unknown): void
}
const sess = (request: FastifyRequest) => request.session as unknown as SessionObject

const app = Fastify()
await app.register(fastifyCookie)
await app.register(fastifySession, {
  secret: 'bench-secret-bench-secret-bench-secret-0123',
  cookie: { secure: false },
  saveUninitialized: false,
})

app.post('/login', async (request) => {
  sess(request).set('user', 'alice')
  return { user: 'alice' }
})
app.get('/', async (request, reply) => {
  const user = sess(request).get('user') as string | undefined
  if (!user) return reply.code(401).send({ error: 'no session' })
  return { user }
})
app.post('/incr', async (request, reply) => {
  const s = sess(request)
  if (!s.get('user')) return reply.code(401).send({ error: 'no session' })
  const n = ((s.get('n') as number | undefined) ?? 0) + 1
  s.set('n', n)
  return { n }
})

await listenFastifyAndAnnounce(app)
