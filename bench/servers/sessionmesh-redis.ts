// Express 5 + sessionmesh with its Redis store (no near cache) on the runner's private
// redis-server (BENCH_REDIS_URL); same routes and answers as sessionmesh.ts.
// SESSIONMESH_ROOT (set by the runner) points at a tsc build of src/; without it, src/ runs.
import express from 'express'
import { pathToFileURL } from 'node:url'
import type * as Api from '../../src/index.js'
import type * as ExpressAdapter from '../../src/adapters/express/index.js'
import type * as RedisStore from '../../src/stores/redis/index.js'
import { listenAndAnnounce } from './listen.js'

const url = process.env.BENCH_REDIS_URL
if (!url) throw new Error('sessionmesh-redis: BENCH_REDIS_URL is not set (the runner starts a private redis-server)')

const root = process.env.SESSIONMESH_ROOT
const from = (path: string) => (root ? pathToFileURL(`${root}/${path}`).href : `../../src/${path}`)
const { createSessions } = (await import(from('index.js'))) as typeof Api
const { session } = (await import(from('adapters/express/index.js'))) as typeof ExpressAdapter
const { redisStore } = (await import(from('stores/redis/index.js'))) as typeof RedisStore

const sessions = createSessions({
  // Its own prefix: the connect-redis server shares this Redis.
  store: redisStore({ url, prefix: 'bench-sessionmesh:' }),
  secret: 'bench-secret-bench-secret-bench-secret-0123',
  // No background sweeps during measurements (nothing expires in a benchmark run anyway).
  sweepInterval: false,
})
const app = express()
app.use(session(sessions))

app.post('/login', (req, res) => {
  req.session.user = 'alice'
  res.json({ user: 'alice' })
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

listenAndAnnounce(app, () => sessions.close())
