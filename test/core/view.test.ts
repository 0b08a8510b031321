/**
 * The property view (`req.session.x = v`): every name is data, including the names of the
 * session's own members and of Object.prototype's. Written in one request, read in the next.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { describe, it } from 'node:test'
import express from 'express'
import { createSessions, Session } from '../../src/index.js'
import { session } from '../../src/adapters/express/index.js'
import { listen } from '../../harness/http.js'
import { cookiePair, run, SECRET } from './helpers.js'

/** The request machinery's former public names, which once swallowed attributes of the same name. */
const FORMER_INTERNALS = ['commit', 'needsCommit', 'fenceWith', 'discard', 'renew']

/** Every member name a user could collide with; `principal` is the documented setter, tested on its own. */
const NAMES = [...new Set([...Object.getOwnPropertyNames(Session.prototype), ...Object.getOwnPropertyNames(Object.prototype), ...FORMER_INTERNALS])].filter(
  (n) => n !== 'principal',
)

describe('the property view: any attribute name is data', () => {
  it(`each of ${NAMES.length} member names (Session's and Object.prototype's) round-trips through view.x = v and Object.keys`, async () => {
    const sessions = createSessions({ secret: SECRET, sweepInterval: false })
    const first = await run(sessions, undefined, (rs) => {
      for (const name of NAMES) rs.view[name] = `value of ${name}`
      rs.view.principal = 'user:7'
      assert.deepEqual(Object.keys(rs.view).sort(), [...NAMES].sort())
    })
    const cookie = cookiePair(first)
    assert.ok(cookie, 'the session was saved and its cookie sent')
    await run(sessions, cookie, (rs) => {
      assert.deepEqual(Object.keys(rs.view).sort(), [...NAMES].sort())
      for (const name of NAMES) assert.equal(rs.view[name], `value of ${name}`, name)
      assert.equal(rs.view.principal, 'user:7')
      assert.equal(rs.session.principal, 'user:7')
      assert.equal(rs.session.get('discard'), 'value of discard')
      for (const name of NAMES) assert.equal(name in rs.view, true)
      delete (rs.view as Record<string, unknown>).keys
      assert.equal(rs.session.has('keys'), false)
      assert.equal(typeof rs.view.keys, 'function', 'with the attribute gone, the member shows again')
    })
    await sessions.close()
  })

  it('names that are not set keep reaching the session API, and the machinery is not reachable by name', async () => {
    const sessions = createSessions({ secret: SECRET, sweepInterval: false })
    await run(sessions, undefined, (rs) => {
      assert.equal(typeof rs.view.get, 'function')
      rs.view.set('a', 1)
      assert.equal(rs.view.a, 1)
      for (const internal of FORMER_INTERNALS) {
        assert.equal(rs.view[internal], undefined, internal)
        assert.equal(internal in rs.session, false, internal)
      }
      assert.equal(typeof rs.view.toString, 'function', 'Object.prototype members stay reachable while unset')
    })
    await sessions.close()
  })

  it('over Express: req.session.discard, .keys and .commit are stored and read back', async () => {
    const sessions = createSessions({ secret: SECRET, sweepInterval: false })
    const app = express()
    app.use(session(sessions))
    app.post('/', (req, res) => {
      req.session.discard = 'yes'
      ;(req.session as Record<string, unknown>).keys = ['k1']
      req.session.commit = { at: 1 }
      res.json(Object.keys(req.session))
    })
    app.get('/', (req, res) => {
      const data = req.session as Record<string, unknown>
      res.json({ keys: Object.keys(data), discard: data.discard, list: data.keys, commit: data.commit })
    })
    const handle = await listen(createServer(app))
    try {
      const posted = await fetch(handle.url, { method: 'POST' })
      assert.deepEqual(await posted.json(), ['discard', 'keys', 'commit'])
      const cookie = posted.headers.get('set-cookie')?.split(';')[0]
      assert.ok(cookie)
      const got = await fetch(handle.url, { headers: { cookie } })
      assert.deepEqual(await got.json(), { keys: ['discard', 'keys', 'commit'], discard: 'yes', list: ['k1'], commit: { at: 1 } })
    } finally {
      await handle.close()
      await sessions.close()
    }
  })
})
