/** The suite's routes (./routes.ts) as an Express app; Express 4 and 5 share it. */
import { createServer } from 'node:http'
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express'
import { session } from '../../src/adapters/express/index.js'
import type { Sessions } from '../../src/index.js'
import { type AppHandle, listen } from '../../harness/http.js'
import { getReply, jsonParam, param, redirectTarget } from './routes.js'

/** Express 4 does not catch rejected promises: hand them to `next` (Express 5 would too). */
const h =
  (fn: (req: Request, res: Response, next: NextFunction) => unknown): RequestHandler =>
  (req, res, next) => {
    Promise.resolve()
      .then(() => fn(req, res, next))
      .catch(next)
  }

export function startExpress(express: () => Express) {
  return async (sessions: Sessions): Promise<AppHandle> => {
    const app = express()
    app.set('env', 'test') // finalhandler then answers errors (413...) without logging them
    app.use(session(sessions))
    app.get('/get', h((req, res) => {
      const k = param(req.url, 'k')
      res.json(getReply(req.session, k, req.session[k]))
    }))
    app.post('/set', h((req, res) => {
      req.session[param(req.url, 'k')] = jsonParam(req.url, 'v')
      res.json({ id: req.session.id })
    }))
    app.post('/incr', h((req, res) => {
      req.session.n = ((req.session.n as number | undefined) ?? 0) + 1
      res.json({ n: req.session.n as unknown })
    }))
    app.post('/push', h((req, res) => {
      const x = jsonParam(req.url, 'x')
      const list: unknown = req.session.list
      if (Array.isArray(list)) list.push(x)
      else req.session.list = [x]
      res.json({ list: req.session.list as unknown })
    }))
    app.post('/login', h(async (req, res) => {
      const user = param(req.url, 'user')
      await req.session.regenerate()
      req.session.principal = `user:${user}`
      req.session.user = user
      res.json({ id: req.session.id, sessionID: req.sessionID })
    }))
    app.post('/logout', h(async (req, res) => {
      await req.session.destroy()
      res.json({ ok: true })
    }))
    app.post('/cb', (req, res, next) => {
      void req.session.regenerate((err) => {
        if (err) return next(err)
        req.session.user = param(req.url, 'user')
        void req.session.save((err2) => (err2 ? next(err2) : res.json({ id: req.session.id })))
      })
    })
    app.get('/redirect', h((req, res) => {
      const k = param(req.url, 'k')
      req.session[k] = jsonParam(req.url, 'v')
      res.redirect(302, redirectTarget(k))
    }))
    app.post('/big', h((req, res) => {
      req.session.big = 'x'.repeat(Number(param(req.url, 'n')))
      res.json({ ok: true })
    }))
    app.get('/none', (_req, res) => {
      res.type('text').send('ok')
    })
    return listen(createServer(app))
  }
}
