// Express 5 + express-session + connect-redis 9 on the runner's private redis-server
// (BENCH_REDIS_URL) through a node-redis 6 client: the documented configuration
// (resave: false, saveUninitialized: false; connect-redis defaults, touch on). Same routes
// and answers as express-session.ts.
import express, { type Request } from 'express'
import session from 'express-session'
import { RedisStore } from 'connect-redis'
import { createClient } from 'redis'
import { listenAndAnnounce } from './listen.js'

const url = process.env.BENCH_REDIS_URL
if (!url) throw new Error('connect-redis: BENCH_REDIS_URL is not set (the runner starts a private redis-server)')

interface Data {
  user: string
  n: number
}
// `req.session` is typed by sessionmesh's Express augmentation in this project; say what it is here.
const sess = (req: Request) => req.session as unknown as session.Session & Partial<Data>

const client = createClient({ url })
client.on('error', (e: Error) => process.stderr.write(`connect-redis bench server: redis error: ${e.message}\n`))
await client.connect()

const app = express()
app.use(
  session({
    // Its own prefix: the sessionmesh server shares this Redis.
    store: new RedisStore({ client, prefix: 'bench-connect-redis:' }),
    secret: 'bench-secret-bench-secret-bench-secret-0123',
    resave: false,
    saveUninitialized: false,
  }),
)

app.post('/login', (req, res) => {
  sess(req).user = 'alice'
  res.json({ user: 'alice' })
})
app.get('/', (req, res) => {
  const user = sess(req).user
  if (!user) res.status(401).json({ error: 'no session' })
  else res.json({ user })
})
app.post('/incr', (req, res) => {
  const s = sess(req)
  if (!s.user) {
    res.status(401).json({ error: 'no session' })
    return
  }
  s.n = (s.n ?? 0) + 1
  res.json({ n: s.n })
})

listenAndAnnounce(app, async () => {
  await client.close()
})
