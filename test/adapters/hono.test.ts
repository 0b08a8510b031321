import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { session, type SessionVariables } from '../../src/adapters/hono/index.js'
import type { Sessions } from '../../src/index.js'
import { closeServer, urlOf } from '../../harness/http.js'
import { asError, getReply, jsonParam, param, redirectTarget } from './routes.js'
import { describeAdapter } from './suite.js'

function startApp(sessions: Sessions) {
  const app = new Hono<{ Variables: SessionVariables }>()
  app.use(session(sessions))
  app.get('/get', (c) => {
    const k = param(c.req.url, 'k')
    return c.json(getReply(c.var.session, k, c.var.session.get(k)))
  })
  app.post('/set', (c) => {
    c.var.session.set(param(c.req.url, 'k'), jsonParam(c.req.url, 'v'))
    return c.json({ id: c.var.session.id })
  })
  app.post('/incr', (c) => {
    const s = c.get('session')
    s.n = ((s.n as number | undefined) ?? 0) + 1
    return c.json({ n: s.n as unknown })
  })
  app.post('/push', (c) => {
    const x = jsonParam(c.req.url, 'x')
    const list = c.var.session.get<unknown[]>('list')
    if (Array.isArray(list)) list.push(x)
    else c.var.session.set('list', [x])
    return c.json({ list: c.var.session.get('list') })
  })
  app.post('/login', async (c) => {
    const user = param(c.req.url, 'user')
    await c.var.session.regenerate()
    c.var.session.principal = `user:${user}`
    c.var.session.set('user', user)
    // Hono has no sessionID variable: the session's own id is the equivalent.
    return c.json({ id: c.var.session.id, sessionID: c.var.session.id })
  })
  app.post('/logout', async (c) => {
    await c.var.session.destroy()
    return c.json({ ok: true })
  })
  app.post(
    '/cb',
    (c) =>
      new Promise<Response>((resolve, reject) => {
        const s = c.var.session
        void s.regenerate((err) => {
          if (err) return reject(asError(err))
          s.set('user', param(c.req.url, 'user'))
          void s.save((err2) => (err2 ? reject(asError(err2)) : resolve(c.json({ id: s.id }))))
        })
      }),
  )
  app.get('/redirect', (c) => {
    const k = param(c.req.url, 'k')
    c.var.session.set(k, jsonParam(c.req.url, 'v'))
    return c.redirect(redirectTarget(k), 302)
  })
  app.post('/big', (c) => {
    c.var.session.set('big', 'x'.repeat(Number(param(c.req.url, 'n'))))
    return c.json({ ok: true })
  })
  app.get('/none', (c) => c.text('ok'))
  return new Promise<{ url: string; close(): Promise<void> }>((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
      resolve({ url: urlOf(info), close: () => closeServer(server as Server) })
    })
  })
}

describeAdapter('hono', startApp)
