import { createServer } from 'node:http'
import Koa, { type Context, type Middleware } from 'koa'
import { session } from '../../src/adapters/koa/index.js'
import type { Sessions } from '../../src/index.js'
import { listen } from '../../harness/http.js'
import { asError, getReply, jsonParam, param, redirectTarget } from './routes.js'
import { describeAdapter } from './suite.js'

const routes: Record<string, (ctx: Context) => unknown> = {
  'GET /get': (ctx) => {
    const k = param(ctx.url, 'k')
    ctx.body = getReply(ctx.session, k, ctx.session[k])
  },
  'POST /set': (ctx) => {
    ctx.session[param(ctx.url, 'k')] = jsonParam(ctx.url, 'v')
    ctx.body = { id: ctx.session.id }
  },
  'POST /incr': (ctx) => {
    ctx.session.n = ((ctx.session.n as number | undefined) ?? 0) + 1
    ctx.body = { n: ctx.session.n as unknown }
  },
  'POST /push': (ctx) => {
    const x = jsonParam(ctx.url, 'x')
    const list: unknown = ctx.session.list
    if (Array.isArray(list)) list.push(x)
    else ctx.session.list = [x]
    ctx.body = { list: ctx.session.list as unknown }
  },
  'POST /login': async (ctx) => {
    const user = param(ctx.url, 'user')
    await ctx.session.regenerate()
    ctx.session.principal = `user:${user}`
    ctx.session.user = user
    ctx.body = { id: ctx.session.id, sessionID: ctx.sessionID }
  },
  'POST /logout': async (ctx) => {
    await ctx.session.destroy()
    ctx.body = { ok: true }
  },
  'POST /cb': (ctx) =>
    new Promise<void>((resolve, reject) => {
      void ctx.session.regenerate((err) => {
        if (err) return reject(asError(err))
        ctx.session.user = param(ctx.url, 'user')
        void ctx.session.save((err2) => {
          if (err2) return reject(asError(err2))
          ctx.body = { id: ctx.session.id }
          resolve()
        })
      })
    }),
  'GET /redirect': (ctx) => {
    const k = param(ctx.url, 'k')
    ctx.session[k] = jsonParam(ctx.url, 'v')
    ctx.redirect(redirectTarget(k))
  },
  'POST /big': (ctx) => {
    ctx.session.big = 'x'.repeat(Number(param(ctx.url, 'n')))
    ctx.body = { ok: true }
  },
  'GET /none': (ctx) => {
    ctx.body = 'ok'
  },
}

function startApp(sessions: Sessions) {
  const app = new Koa()
  app.on('error', () => {}) // errors are answered (413...); keep them off the test output
  app.use(session(sessions))
  const dispatch: Middleware = async (ctx) => {
    await routes[`${ctx.method} ${ctx.path}`]?.(ctx)
  }
  app.use(dispatch)
  const handle = app.callback() // answers its own errors; the promise never rejects
  return listen(createServer((req, res) => void handle(req, res)))
}

describeAdapter('koa', startApp)
