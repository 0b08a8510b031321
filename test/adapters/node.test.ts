import { createServer, type ServerResponse } from 'node:http'
import { type SessionRequest, withSession } from '../../src/adapters/node/index.js'
import type { Sessions } from '../../src/index.js'
import { listen } from '../../harness/http.js'
import { getReply, jsonParam, param, redirectTarget } from './routes.js'
import { describeAdapter } from './suite.js'

const json = (res: ServerResponse, body: unknown) => {
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify(body))
}

async function handler(req: SessionRequest, res: ServerResponse): Promise<void> {
  const s = req.session
  const path = new URL(req.url ?? '/', 'http://localhost').pathname
  switch (`${req.method} ${path}`) {
    case 'GET /get': {
      const k = param(req.url, 'k')
      return json(res, getReply(s, k, s[k]))
    }
    case 'POST /set':
      s[param(req.url, 'k')] = jsonParam(req.url, 'v')
      return json(res, { id: s.id })
    case 'POST /incr':
      s.n = ((s.n as number | undefined) ?? 0) + 1
      return json(res, { n: s.n as unknown })
    case 'POST /push': {
      const x = jsonParam(req.url, 'x')
      const list: unknown = s.list
      if (Array.isArray(list)) list.push(x)
      else s.list = [x]
      return json(res, { list: s.list as unknown })
    }
    case 'POST /login': {
      const user = param(req.url, 'user')
      await s.regenerate()
      s.principal = `user:${user}`
      s.user = user
      return json(res, { id: s.id, sessionID: req.sessionID })
    }
    case 'POST /logout':
      await s.destroy()
      return json(res, { ok: true })
    case 'POST /cb':
      void s.regenerate((err) => {
        if (err) return void res.writeHead(500).end()
        s.user = param(req.url, 'user')
        void s.save((err2) => (err2 ? res.writeHead(500).end() : json(res, { id: s.id })))
      })
      return
    case 'GET /redirect': {
      const k = param(req.url, 'k')
      s[k] = jsonParam(req.url, 'v')
      res.writeHead(302, { location: redirectTarget(k) }).end()
      return
    }
    case 'POST /big':
      s.big = 'x'.repeat(Number(param(req.url, 'n')))
      return json(res, { ok: true })
    case 'GET /none':
      res.end('ok')
      return
    default:
      res.writeHead(404).end()
  }
}

describeAdapter('node:http', (sessions: Sessions) => listen(createServer(withSession(sessions, handler))))
