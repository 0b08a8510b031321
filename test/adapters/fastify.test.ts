import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import { session } from '../../src/adapters/fastify/index.js'
import type { Sessions } from '../../src/index.js'
import { urlOf } from '../../harness/http.js'
import { getReply, jsonParam, param, redirectTarget } from './routes.js'
import { describeAdapter } from './suite.js'

async function startApp(sessions: Sessions) {
  const app = Fastify()
  await app.register(session(sessions))
  app.get('/get', async (request) => {
    const k = param(request.url, 'k')
    return getReply(request.session, k, request.session.get(k))
  })
  app.post('/set', async (request) => {
    request.session.set(param(request.url, 'k'), jsonParam(request.url, 'v'))
    return { id: request.session.id }
  })
  app.post('/incr', async (request) => {
    request.session.n = ((request.session.n as number | undefined) ?? 0) + 1
    return { n: request.session.n as unknown }
  })
  app.post('/push', async (request) => {
    const x = jsonParam(request.url, 'x')
    const list = request.session.get<unknown[]>('list')
    if (Array.isArray(list)) list.push(x)
    else request.session.set('list', [x])
    return { list: request.session.get('list') }
  })
  app.post('/login', async (request) => {
    const user = param(request.url, 'user')
    await request.session.regenerate()
    request.session.principal = `user:${user}`
    request.session.set('user', user)
    return { id: request.session.id, sessionID: request.sessionID }
  })
  app.post('/logout', async (request) => {
    await request.session.destroy()
    return { ok: true }
  })
  app.post('/cb', (request, reply) => {
    void request.session.regenerate((err) => {
      if (err) return void reply.send(err)
      request.session.set('user', param(request.url, 'user'))
      void request.session.save((err2) => void reply.send(err2 ?? { id: request.session.id }))
    })
  })
  app.get('/redirect', async (request, reply) => {
    const k = param(request.url, 'k')
    request.session.set(k, jsonParam(request.url, 'v'))
    return reply.redirect(redirectTarget(k), 302)
  })
  app.post('/big', async (request) => {
    request.session.set('big', 'x'.repeat(Number(param(request.url, 'n'))))
    return { ok: true }
  })
  app.get('/none', async () => 'ok')
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { url: urlOf(app.server.address() as AddressInfo), close: () => app.close() }
}

describeAdapter('fastify', startApp)
