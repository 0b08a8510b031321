// Baseline: Express 5 with no session layer at all.
import express from 'express'
import { listenAndAnnounce } from './listen.js'

const app = express()
let n = 0

app.get('/', (_req, res) => {
  res.json({ user: 'alice' })
})
app.post('/login', (_req, res) => {
  res.json({ user: 'alice' })
})
app.post('/incr', (_req, res) => {
  res.json({ n: ++n })
})

listenAndAnnounce(app)
