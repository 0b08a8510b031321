import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createSessions } from '../../src/index.js'
import { springSessionTokens } from '../../src/interop/index.js'
import { request, SECRET } from './helpers.js'
import type { Sessions } from '../../src/index.js'

/** A stored session holding `user`, and its signed token. */
async function login(sessions: Sessions, user: string): Promise<{ id: string; token: string }> {
  const rs = await sessions.open(request())
  rs.view.user = user
  await rs.commit()
  return { id: rs.session.id, token: sessions.tokens.issue(rs.session.id) }
}

async function userOf(sessions: Sessions, cookie: string, encrypted = false): Promise<unknown> {
  const rs = await sessions.open(request({ cookie }, encrypted))
  return rs.session.get('user')
}

describe('duplicate session cookies', () => {
  it('garbage first, a valid one second: the valid session (garbage never logs anyone out)', async () => {
    const sessions = createSessions({ secret: SECRET, sweepInterval: false })
    const { token } = await login(sessions, 'alice')
    for (const garbage of ['x', `${token.slice(0, -1)}A`, '%zz', '"unterminated', 'a'.repeat(500)]) {
      assert.equal(await userOf(sessions, `sid=${garbage}; sid=${token}`), 'alice', garbage.slice(0, 20))
      assert.equal(await userOf(sessions, `other=1; sid=${garbage};sid=${token}; more=2`), 'alice', garbage.slice(0, 20))
    }
    await sessions.close()
  })

  it('two valid plain cookies: the first one in the header wins (documented; __Host- is the defence)', async () => {
    const sessions = createSessions({ secret: SECRET, sweepInterval: false })
    const attacker = await login(sessions, 'mallory')
    const victim = await login(sessions, 'alice')
    assert.equal(await userOf(sessions, `sid=${attacker.token}; sid=${victim.token}`), 'mallory')
    await sessions.close()
  })

  it('over TLS a planted plain sid cannot shadow the victim\'s __Host-sid, whatever the order', async () => {
    const sessions = createSessions({ secret: SECRET, sweepInterval: false })
    const attacker = await login(sessions, 'mallory')
    const victim = await login(sessions, 'alice')
    assert.equal(await userOf(sessions, `sid=${attacker.token}; __Host-sid=${victim.token}`, true), 'alice')
    assert.equal(await userOf(sessions, `__Host-sid=${victim.token}; sid=${attacker.token}`, true), 'alice')
    // A garbage __Host- cookie falls through to the next one that verifies.
    assert.equal(await userOf(sessions, `__Host-sid=garbage; sid=${victim.token}`, true), 'alice')
    await sessions.close()
  })

  it('defaults write __Host-sid over TLS and behind trustProxy with X-Forwarded-Proto https, plain sid over HTTP', async () => {
    const sessions = createSessions({ secret: SECRET, trustProxy: true, sweepInterval: false })
    const write = async (headers: Record<string, string>, encrypted: boolean) => {
      const rs = await sessions.open(request(headers, encrypted))
      rs.view.x = 1
      await rs.commit()
      return rs.responseHeaders().map(([, v]) => v)
    }
    const secureCookie = /^__Host-sid=[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Lax$/
    assert.match((await write({}, true))[0] ?? '', secureCookie)
    assert.match((await write({ 'x-forwarded-proto': 'https' }, false))[0] ?? '', secureCookie)
    assert.match((await write({}, false))[0] ?? '', /^sid=[^;]+; Path=\/; HttpOnly; SameSite=Lax$/)
    await sessions.close()
  })

  it('a plain sid that verifies over TLS moves to __Host-sid (same session) and the plain one is cleared', async () => {
    const sessions = createSessions({ secret: SECRET, sweepInterval: false })
    const { id, token } = await login(sessions, 'alice')
    const rs = await sessions.open(request({ cookie: `sid=${token}` }, true))
    assert.equal(rs.session.get('user'), 'alice')
    assert.equal(rs.commitIfIdle(), true)
    const set = rs.responseHeaders().map(([, v]) => v)
    assert.equal(set.length, 2)
    assert.match(set[0] ?? '', /^__Host-sid=[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/)
    assert.match(set[1] ?? '', /^sid=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax$/)
    const moved = (set[0] ?? '').split(';')[0] as string
    const again = await sessions.open(request({ cookie: moved }, true))
    assert.equal(again.session.id, id)
    assert.deepEqual(again.responseHeaders(), [], 'nothing more to move')
    // Over plain HTTP the plain name stays: no move, no clear.
    const http = await sessions.open(request({ cookie: `sid=${token}` }))
    assert.deepEqual(http.responseHeaders(), [])
    await sessions.close()
  })

  it('destroying a session over TLS clears both names the browser may hold', async () => {
    const sessions = createSessions({ secret: SECRET, sweepInterval: false })
    const { token } = await login(sessions, 'alice')
    const rs = await sessions.open(request({ cookie: `sid=${token}` }, true))
    await rs.session.destroy()
    await rs.commit()
    const names = rs.responseHeaders().map(([, v]) => v.split('=')[0])
    assert.deepEqual(names, ['__Host-sid', 'sid'])
    await sessions.close()
  })

  it('where __Host- cannot be used (a domain, a path other than /, hostPrefix: false, interop tokens) the plain name is written', async () => {
    for (const options of [
      { cookie: { domain: 'example.com' } },
      { cookie: { path: '/app' } },
      { cookie: { hostPrefix: false } },
      { tokens: springSessionTokens(), cookie: { name: 'SESSION' } },
    ]) {
      const sessions = createSessions({ secret: SECRET, sweepInterval: false, ...options })
      const rs = await sessions.open(request({}, true))
      rs.view.x = 1
      await rs.commit()
      const set = rs.responseHeaders()[0]?.[1] ?? ''
      assert.doesNotMatch(set, /^__Host-/, JSON.stringify(options.cookie))
      assert.match(set, /; Secure/)
      assert.equal(sessions.cookie?.hostName, null)
      await sessions.close()
    }
  })

  it('hostPrefix: true reads only __Host-sid (the end of the transition)', async () => {
    const sessions = createSessions({ secret: SECRET, cookie: { hostPrefix: true }, sweepInterval: false })
    const { token } = await login(sessions, 'alice')
    assert.equal(await userOf(sessions, `sid=${token}`, true), undefined)
    assert.equal(await userOf(sessions, `sid=garbage; __Host-sid=${token}`, true), 'alice')
    await sessions.close()
  })
})
