/**
 * The auth service: log in (fixation-safe), who am I, log out, log out everywhere, and the
 * list of the user's devices. Run as several processes; any of them answers for any session.
 */
import { accounts } from '../catalog.js'
import { jsonObject, requireUser, runService } from '../service.js'
import { sessionRef } from '../sessions.js'

const text = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max

runService('auth', (app, { sessions }) => {
  app.post('/api/auth/login', async (req, res) => {
    const body = jsonObject(req, res)
    if (!body) return
    const { username, password } = body
    if (!text(username, 64) || !text(password, 128)) return void res.status(400).json({ error: 'username and password (strings) required' })
    if (!Object.hasOwn(accounts, username) || accounts[username] !== password) return void res.status(401).json({ error: 'bad credentials' })
    // A fresh id and an empty session: fixation defence, and nothing of a previous user survives.
    await req.session.regenerate({ keep: false })
    req.session.principal = `user:${username}`
    req.session.set('user', username)
    req.session.set('userAgent', (req.get('user-agent') ?? 'unknown').slice(0, 200))
    res.json({ user: username })
  })

  app.get('/api/auth/me', (req, res) => {
    const user = requireUser(req, res)
    if (user) res.json({ user })
  })

  app.post('/api/auth/logout', async (req, res) => {
    if (!requireUser(req, res)) return
    await req.session.destroy()
    res.json({ ok: true })
  })

  app.post('/api/auth/logout-all', async (req, res) => {
    if (!requireUser(req, res)) return
    const revoked = await sessions.revokePrincipal(req.session.principal as string)
    // This request's own session is among the revoked: nothing left to save, clear the cookie.
    await req.session.destroy()
    res.json({ revoked })
  })

  app.get('/api/auth/sessions', async (req, res) => {
    if (!requireUser(req, res)) return
    const mine = await sessions.findByPrincipal(req.session.principal as string)
    const list = mine
      .map((s) => ({
        ref: sessionRef(s.id),
        createdAt: s.createdAt,
        lastSeenAt: s.lastAccessedAt,
        userAgent: s.get<string>('userAgent') ?? 'unknown',
        current: s.id === req.session.id,
      }))
      .sort((a, b) => b.createdAt - a.createdAt)
    res.json({ sessions: list })
  })
})
