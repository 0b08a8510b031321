/**
 * Adapter-specific paths the shared suite's routes do not reach: raw node:http response
 * idioms (writeHead variants, streaming, end-then-throw) and Hono's immutable redirects.
 */
import assert from 'node:assert/strict'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, it } from 'node:test'
import { serve } from '@hono/node-server'
import express from 'express'
import { Hono } from 'hono'
import { session as expressSession } from '../../src/adapters/express/index.js'
import { session as honoSession, type SessionVariables } from '../../src/adapters/hono/index.js'
import { type SessionRequest, withSession } from '../../src/adapters/node/index.js'
import type { Sessions } from '../../src/index.js'
import { type AppHandle, closeServer, listen, urlOf } from '../../harness/http.js'
import { param } from './routes.js'
import { withApp } from './suite.js'

const TOKEN_COOKIE = /^sid=[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/

function nodeApp(sessions: Sessions): Promise<AppHandle> {
  const routes: Record<string, (req: SessionRequest, res: ServerResponse) => void> = {
    '/get': (req, res) => res.end(JSON.stringify({ value: (req.session[param(req.url, 'k')] as unknown) ?? null })),
    '/flat-headers': (req, res) => {
      req.session.a = 1
      res.writeHead(201, 'Made', ['content-type', 'text/plain', 'x-extra', 'yes']).end('made')
    },
    '/stream': (req, res) => {
      req.session.streamed = true
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('a')
      res.end('b')
    },
    '/end-then-throw': (req, res) => {
      req.session.a = 2
      res.end('ended')
      throw new Error('after end')
    },
    '/end-twice': (req, res) => {
      req.session.a = 3
      res.end('one')
      res.end('two')
    },
    '/bad-status': (_req, res) => {
      res.writeHead(42).end()
    },
  }
  const handler = withSession(sessions, (req, res) => {
    const route = routes[new URL(req.url ?? '/', 'http://localhost').pathname]
    if (route) route(req, res)
    else res.writeHead(404).end()
  })
  return listen(createServer(handler))
}

describe('node:http response idioms', () => {
  it('writeHead with a reason and flat header array still gets the new session cookie', () =>
    withApp(nodeApp, {}, async ({ client }) => {
      const r = await client.get('/flat-headers')
      assert.deepEqual([r.status, r.text, r.headers.get('x-extra')], [201, 'made', 'yes'])
      assert.match(r.sessionCookie ?? '', TOKEN_COOKIE)
      assert.equal((await client.get('/get?k=a')).body.value, 1)
    }))

  it('a streamed response of an existing session is complete only once saved', () =>
    withApp(nodeApp, {}, async ({ client }) => {
      await client.get('/flat-headers')
      const r = await client.get('/stream')
      assert.deepEqual([r.status, r.text], [200, 'ab'])
      assert.equal((await client.get('/get?k=streamed')).body.value, true)
    }))

  it('a handler that throws after end, or ends twice, sends its first answer and does not crash', () =>
    withApp(nodeApp, {}, async ({ client, errors }) => {
      const thrown = await client.get('/end-then-throw')
      assert.deepEqual([thrown.status, thrown.text], [200, 'ended'])
      assert.equal((await client.get('/get?k=a')).body.value, 2)
      const twice = await client.get('/end-twice')
      assert.deepEqual([twice.status, twice.text], [200, 'one'])
      assert.equal((await client.get('/get?k=a')).body.value, 3)
      assert.deepEqual(
        errors.map((e) => e.message),
        ['after end'],
      )
    }))

  it('an invalid status code is the handler error it always was (500), not a crash', () =>
    withApp(nodeApp, {}, async ({ client }) => {
      const r = await client.get('/bad-status')
      assert.equal(r.status, 500)
      assert.equal(r.body?.code, 'INTERNAL')
    }))
})

describe('express: raw writeHead redirect', () => {
  it('res.writeHead(302).end() from an Express route carries the new session cookie', () =>
    withApp(
      (sessions) => {
        const app = express()
        app.use(expressSession(sessions))
        app.get('/go', (req, res) => {
          req.session.flash = 'hi'
          res.writeHead(302, { location: '/next' }).end()
        })
        return listen(createServer(app))
      },
      {},
      async ({ client }) => {
        const r = await client.get('/go')
        assert.equal(r.status, 302)
        assert.match(r.sessionCookie ?? '', TOKEN_COOKIE)
      },
    ))
})

describe('hono: Response.redirect (immutable headers)', () => {
  it('a new session cookie is added to a Response.redirect answer', () =>
    withApp(
      (sessions) => {
        const app = new Hono<{ Variables: SessionVariables }>()
        app.use(honoSession(sessions))
        app.get('/go', (c) => {
          c.var.session.set('flash', 'hi')
          return Response.redirect(new URL('/get', c.req.url), 302)
        })
        app.get('/get', (c) => c.json({ value: c.var.session.get('flash') ?? null }))
        return new Promise((resolve) => {
          const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) =>
            resolve({ url: urlOf(info), close: () => closeServer(server as Server) }),
          )
        })
      },
      {},
      async ({ client }) => {
        const r = await client.get('/go')
        assert.equal(r.status, 302)
        assert.match(r.sessionCookie ?? '', TOKEN_COOKIE)
        assert.equal((await client.get('/get')).body.value, 'hi')
      },
    ))
})
