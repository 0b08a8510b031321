/**
 * Express-specific: the adapter hooks Express's shared request/response prototypes, so it
 * must keep working where Express swaps prototypes (a mounted sub-app) and beside
 * express-session in another app of the same process.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import express from 'express'
import expressSessionLib from 'express-session'
import { session } from '../../src/adapters/express/index.js'
import { createSessions } from '../../src/index.js'
import { createServer } from 'node:http'
import { listen } from '../../harness/http.js'

const SECRET = 'mounting-secret-0123456789-abcdefghijkl'

describe('express adapter across apps', () => {
  it('works inside a mounted sub-app: req.session is there and saved before the response', async () => {
    const sessions = createSessions({ secret: SECRET, sweepInterval: false })
    const parent = express()
    const child = express()
    parent.use(session(sessions))
    child.post('/set', (req, res) => {
      req.session.fromChild = 'yes'
      res.redirect('/child/get')
    })
    child.get('/get', (req, res) => {
      res.json({ value: (req.session.fromChild as string | undefined) ?? null, id: req.sessionID })
    })
    parent.use('/child', child)
    const app = await listen(createServer(parent))
    try {
      const set = await fetch(`${app.url}/child/set`, { method: 'POST', redirect: 'manual' })
      assert.equal(set.status, 302)
      const cookie = set.headers.get('set-cookie')?.split(';')[0]
      assert.ok(cookie, 'the sub-app response carries the new session cookie')
      const got = (await (await fetch(`${app.url}/child/get`, { headers: { cookie } })).json()) as { value: string; id: string }
      assert.equal(got.value, 'yes')
      assert.equal(got.id, cookie.slice(4, 36))
    } finally {
      await app.close()
      await sessions.close()
    }
  })

  it("honours Express's trust proxy setting: Secure only for https through a trusted proxy", async () => {
    const sessions = createSessions({ secret: SECRET, sweepInterval: false })
    const app = express()
    app.set('trust proxy', 'loopback')
    app.use(session(sessions))
    app.post('/set', (req, res) => {
      req.session.x = 1
      res.json({ secure: req.secure })
    })
    const server = await listen(createServer(app))
    const cookieFor = async (proto: string) => {
      const r = await fetch(`${server.url}/set`, { method: 'POST', headers: { 'x-forwarded-proto': proto } })
      return r.headers.get('set-cookie') ?? ''
    }
    try {
      assert.match(await cookieFor('https'), /; Secure/)
      assert.doesNotMatch(await cookieFor('http'), /Secure/)
      app.set('trust proxy', false)
      assert.doesNotMatch(await cookieFor('https'), /Secure/, 'an untrusted proxy header is ignored')
    } finally {
      await server.close()
      await sessions.close()
    }
  })

  it('works when the session middleware sits in a sub-app and the parent app answers', async () => {
    const sessions = createSessions({ secret: SECRET, sweepInterval: false })
    const parent = express()
    const child = express()
    child.use(session(sessions))
    child.use((req, _res, next) => {
      req.session.seenInChild = true
      next()
    })
    parent.use(child)
    parent.get('/after', (_req, res) => {
      res.json({ ok: true })
    })
    const app = await listen(createServer(parent))
    try {
      const r = await fetch(`${app.url}/after`)
      assert.equal(r.status, 200)
      const cookie = r.headers.get('set-cookie')?.split(';')[0]
      assert.ok(cookie, 'saved and cookie set although the parent app sent the response')
      assert.equal((await sessions.get(cookie.slice(4, 36)))?.get('seenInChild'), true)
    } finally {
      await app.close()
      await sessions.close()
    }
  })

  it('leaves express-session working in another app of the same process', async () => {
    const sessions = createSessions({ secret: SECRET, sweepInterval: false })
    const ours = express()
    ours.use(session(sessions))
    ours.get('/', (req, res) => {
      req.session.n = 1
      res.json({ id: req.sessionID })
    })
    const theirs = express()
    theirs.use(expressSessionLib({ secret: SECRET, resave: false, saveUninitialized: false }))
    theirs.get('/', (req, res) => {
      const s = req.session as unknown as { views?: number }
      s.views = (s.views ?? 0) + 1
      res.json({ views: s.views, id: req.sessionID as unknown })
    })
    const a = await listen(createServer(ours))
    const b = await listen(createServer(theirs))
    try {
      assert.equal((await fetch(`${a.url}/`)).status, 200)
      const first = await fetch(`${b.url}/`)
      assert.equal(first.status, 200)
      const cookie = first.headers.get('set-cookie')?.split(';')[0] as string
      assert.match(cookie, /^connect\.sid=s%3A/)
      const second = (await (await fetch(`${b.url}/`, { headers: { cookie } })).json()) as { views: number }
      assert.equal(second.views, 2)
    } finally {
      await a.close()
      await b.close()
      await sessions.close()
    }
  })
})
