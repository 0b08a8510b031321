/**
 * Regressions the adapter suite found in the core (both fixed). Any adapter shows them;
 * node:http is the smallest.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { describe, it } from 'node:test'
import { withSession } from '../../src/adapters/node/index.js'
import type { Sessions } from '../../src/index.js'
import { listen } from '../../harness/http.js'
import { getReply, param, query } from './routes.js'
import { flakyStore } from './stores.js'
import { withApp } from './suite.js'

/** GET /?k=K reads K; with &v=JSON it stores it first. */
const startApp = (sessions: Sessions) =>
  listen(
    createServer(
      withSession(sessions, (req, res) => {
        const k = param(req.url, 'k')
        const v = query(req.url).get('v')
        if (v !== null) req.session[k] = JSON.parse(v) as unknown
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify(getReply(req.session, k, req.session[k])))
      }),
    ),
  )

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

describe('core regressions found through the adapters', () => {
  it(
    'rejects a signature whose last character differs only in bits base64url does not use',
    () =>
      withApp(startApp, {}, async ({ client }) => {
        await client.get('/?k=a&v=1')
        const token = client.token ?? ''
        const last = B64URL.indexOf(token.at(-1) ?? '')
        const sibling = B64URL[last ^ 1] // same 4 data bits, other padding bits
        const forged = `sid=${token.slice(0, -1)}${sibling}`
        const r = await client.get('/?k=a', { cookie: forged })
        assert.equal(r.body.has, false, `${forged} was accepted as ${client.cookie}`)
      }),
  )

  it(
    "with onStoreError 'continue', a cookieless request that stores something runs to a 200",
    () => {
      const store = flakyStore()
      store.down = true
      return withApp(startApp, { store, onStoreError: 'continue' }, async ({ client }) => {
        const r = await client.get('/?k=a&v=1')
        assert.equal(r.status, 200, r.text)
      })
    },
  )
})
