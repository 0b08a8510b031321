// Express 5 + sessionmesh with its in-process memory store; same routes as express-session.ts.
// SESSIONMESH_ROOT (set by the runner) points at a tsc build of src/; without it, src/ runs.
import express from 'express'
import { pathToFileURL } from 'node:url'
import type * as Api from '../../src/index.js'
import type * as ExpressAdapter from '../../src/adapters/express/index.js'
import { listenAndAnnounce } from './listen.js'

const root = process.env.SESSIONMESH_ROOT
const from = (path: string) => (root ? pathToFileURL(`${root}/${path}`).href : `../../src/${path}`)
const { createSessions, memoryStore } = (await import(from('index.js'))) as typeof Api
const { session } = (await import(from('adapters/express/index.js'))) as typeof ExpressAdapter

const sessions = createSessions({ store: memoryStore(), secret: 'bench-secret-bench-secret-bench-secret-0123' })
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
