// Baseline: Express 5 with no session layer at all.
import express from 'express'
import { listenAndAnnounce } from './listen.js'

const app = express()
let n = 0

// The routes of the session servers, in the same order: Express tries each route in turn,
// so the baseline must not answer `GET /` with fewer routes ahead of it than they do.
app.post('/login', (_req, res) => {
  res.json({ user: 'alice' })
})
app.post('/login-cart', (_req, res) => {
  res.json({ ok: true })
})
app.get('/', (_req, res) => {
  res.json({ user: 'alice' })
})
app.post('/incr', (_req, res) => {
  res.json({ n: ++n })
})

listenAndAnnounce(app)
