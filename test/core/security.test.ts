import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ConfigurationError, createSessions, memoryStore, SessionDataError } from '../../src/index.js'
import { clock, cookiePair, request, run, SECRET } from './helpers.js'

const OLD = 'old-secret-0123456789-abcdefghijklmnopq'
const NEW = 'new-secret-0123456789-abcdefghijklmnopq'

describe('ids and signed cookies', () => {
  it('ids carry at least 128 bits from the CSPRNG, base64url, and never repeat', async () => {
    const sessions = createSessions({ secret: SECRET, sweepInterval: false })
    const ids = new Set<string>()
    for (let i = 0; i < 2_000; i++) ids.add(sessions.newBlankSession().id)
    assert.equal(ids.size, 2_000)
    for (const id of ids) {
      assert.match(id, /^[A-Za-z0-9_-]{32}$/) // 32 base64url chars = 192 bits
    }
    await sessions.close()
  })

  it('cookie defaults: HttpOnly, SameSite=Lax, Path=/, Secure only over HTTPS', async () => {
    const sessions = createSessions({ secret: SECRET, sweepInterval: false })
    const plain = await sessions.open(request())
    plain.view.x = 1
    await plain.commit()
    const header = plain.responseHeaders()[0]?.[1] ?? ''
    assert.match(header, /^sid=[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/)
    const tls = await sessions.open(request({}, true))
    tls.view.x = 1
    await tls.commit()
    assert.match(tls.responseHeaders()[0]?.[1] ?? '', /; Secure/)
    await sessions.close()
  })

  it('X-Forwarded-Proto is believed only with trustProxy', async () => {
    for (const trustProxy of [false, true]) {
      const sessions = createSessions({ secret: SECRET, trustProxy, sweepInterval: false })
      const rs = await sessions.open(request({ 'x-forwarded-proto': 'https' }))
      rs.view.x = 1
      await rs.commit()
      assert.equal(/; Secure/.test(rs.responseHeaders()[0]?.[1] ?? ''), trustProxy)
      await sessions.close()
    }
  })

  it('__Host- prefix forces Secure, Path=/ and no Domain', async () => {
    const sessions = createSessions({ secret: SECRET, cookie: { hostPrefix: true, path: '/app' }, sweepInterval: false })
    const rs = await sessions.open(request())
    rs.view.x = 1
    await rs.commit()
    assert.match(rs.responseHeaders()[0]?.[1] ?? '', /^__Host-sid=.*; Path=\/; HttpOnly; Secure; SameSite=Lax$/)
    assert.throws(() => createSessions({ secret: SECRET, cookie: { hostPrefix: true, domain: 'x.com' } }), ConfigurationError)
    await sessions.close()
  })

  it('every single-character tamper of the token yields a fresh anonymous session', async () => {
    const sessions = createSessions({ secret: SECRET, sweepInterval: false })
    const cookie = cookiePair(await run(sessions, undefined, (rs) => (rs.view.user = 'alice'))) as string
    const token = cookie.slice('sid='.length)
    const alphabet = 'ABCabc019_-.'
    for (let i = 0; i < token.length; i++) {
      for (const ch of alphabet) {
        if (token[i] === ch) continue
        const forged = token.slice(0, i) + ch + token.slice(i + 1)
        const rs = await sessions.open(request({ cookie: `sid=${forged}` }))
        assert.equal(rs.session.isNew, true, `tampered at ${i} with ${ch} must not load`)
        assert.equal(rs.view.user, undefined)
      }
    }
    await sessions.close()
  })

  it('a cookie signed with an old key is accepted under rotation and re-signed with the new key', async () => {
    const store = memoryStore()
    const before = createSessions({ store, secret: [OLD], sweepInterval: false })
    const oldCookie = cookiePair(await run(before, undefined, (rs) => (rs.view.user = 'alice'))) as string
    const after = createSessions({ store, secret: [NEW, OLD], sweepInterval: false })
    const rs = await run(after, oldCookie, (rs) => assert.equal(rs.view.user, 'alice'))
    const resigned = cookiePair(rs) as string
    assert.ok(resigned && resigned !== oldCookie, 're-signed')
    assert.equal(resigned.split('.')[0], oldCookie.split('.')[0], 'same id')
    const onlyNew = createSessions({ store, secret: [NEW], sweepInterval: false })
    assert.equal((await run(onlyNew, resigned)).view.user, 'alice')
    assert.equal((await run(onlyNew, oldCookie)).session.isNew, true, 'old key retired: old cookie dead')
    await after.close()
  })

  it('regenerate() is a fixation defence: new id, old id dead, attributes kept (or dropped)', async () => {
    const sessions = createSessions({ secret: SECRET, sweepInterval: false })
    const planted = cookiePair(await run(sessions, undefined, (rs) => (rs.view.cart = ['x']))) as string
    const login = await run(sessions, planted, async (rs) => {
      await rs.session.regenerate()
      rs.session.principal = 'user:1'
    })
    const fresh = cookiePair(login) as string
    assert.notEqual(fresh.split('.')[0], planted.split('.')[0])
    assert.equal((await run(sessions, planted)).session.isNew, true, 'the planted id no longer works')
    const after = await run(sessions, fresh)
    assert.deepEqual(after.view.cart, ['x'])
    assert.equal(after.session.principal, 'user:1')
    const dropped = await run(sessions, fresh, (rs) => rs.session.regenerate({ keep: false }))
    assert.equal(dropped.session.principal, null)
    assert.equal(dropped.view.cart, undefined)
    await sessions.close()
  })

  it('Authorization: Bearer tokens work for API clients, answered in x-session-token', async () => {
    const sessions = createSessions({ secret: SECRET, header: true, cookie: false, sweepInterval: false })
    const first = await sessions.open(request())
    first.view.user = 'api'
    await first.commit()
    const [[name, token] = ['', '']] = first.responseHeaders()
    assert.equal(name, 'x-session-token')
    const second = await sessions.open(request({ authorization: `Bearer ${token}` }))
    assert.equal(second.view.user, 'api')
    const other = token.endsWith('A') ? 'B' : 'A' // a real change: the canonical last character may be 'A'
    const forged = await sessions.open(request({ authorization: `Bearer ${token.slice(0, -1)}${other}` }))
    assert.equal(forged.session.isNew, true)
    await sessions.close()
  })

  it('an invalid Authorization header does not shadow a valid session cookie', async () => {
    const sessions = createSessions({ secret: SECRET, header: true, sweepInterval: false })
    const cookie = cookiePair(await run(sessions, undefined, (rs) => (rs.view.user = 'web')))
    const rs = await sessions.open(request({ authorization: 'Bearer not-a-token', cookie: cookie as string }))
    assert.equal(rs.view.user, 'web')
    await sessions.close()
  })
})

describe('timeouts', () => {
  it('an idle session expires and is never served, even while the store still holds it', async () => {
    const t = clock()
    const store = memoryStore()
    const sessions = createSessions({ store, secret: SECRET, now: t.now, idleTimeout: '10m', sweepInterval: false })
    const cookie = cookiePair(await run(sessions, undefined, (rs) => (rs.view.user = 'u')))
    t.advance(9 * 60_000)
    assert.equal((await run(sessions, cookie, (rs) => (rs.view.seen = true))).view.user, 'u')
    t.advance(9 * 60_000) // 9 min after the last write: alive
    assert.equal((await run(sessions, cookie)).view.user, 'u')
    t.advance(11 * 60_000)
    const expired = await run(sessions, cookie)
    assert.equal(expired.session.isNew, true)
    assert.ok(await store.count(0), 'still in the store until swept')
    await sessions.close()
  })

  it('the absolute timeout ends a session however active it is', async () => {
    const t = clock()
    const sessions = createSessions({ secret: SECRET, now: t.now, idleTimeout: '30m', absoluteTimeout: '2h', sweepInterval: false })
    const cookie = cookiePair(await run(sessions, undefined, (rs) => (rs.view.user = 'u')))
    for (let i = 0; i < 7; i++) {
      t.advance(15 * 60_000)
      assert.equal((await run(sessions, cookie, (rs) => (rs.view.i = i))).view.user, 'u', `alive at ${(i + 1) * 15} min`)
    }
    t.advance(15 * 60_000 + 1) // 2h + 1ms after creation
    assert.equal((await run(sessions, cookie)).session.isNew, true)
    await sessions.close()
  })

  it('renewAfter gives an active session a new id periodically; the old one dies', async () => {
    const t = clock()
    const sessions = createSessions({ secret: SECRET, now: t.now, renewAfter: '15m', sweepInterval: false })
    const first = cookiePair(await run(sessions, undefined, (rs) => (rs.view.user = 'u'))) as string
    t.advance(5 * 60_000)
    assert.equal(cookiePair(await run(sessions, first)), undefined, 'not yet due')
    t.advance(11 * 60_000)
    const renewed = cookiePair(await run(sessions, first)) as string
    assert.ok(renewed && renewed.split('.')[0] !== first.split('.')[0])
    assert.equal((await run(sessions, first)).session.isNew, true)
    assert.equal((await run(sessions, renewed)).view.user, 'u')
    await sessions.close()
  })

  it('a persistent cookie lives exactly as long as the absolute timeout allows', async () => {
    const t = clock()
    const sessions = createSessions({ secret: SECRET, now: t.now, absoluteTimeout: '1h', cookie: { persistent: true }, sweepInterval: false })
    const rs = await run(sessions, undefined, (rs) => (rs.view.x = 1))
    assert.match(rs.responseHeaders()[0]?.[1] ?? '', /Max-Age=3600/)
    await sessions.close()
  })
})

describe('encryption at rest', () => {
  const K1 = 'k1-0123456789abcdefghijklmnopqrstuvwxyz'
  const K2 = 'k2-0123456789abcdefghijklmnopqrstuvwxyz'

  it('stores sealed values, reads them back, and keeps deltas per attribute', async () => {
    const store = memoryStore()
    const sessions = createSessions({ store, secret: SECRET, encryption: { keys: [K1] }, sweepInterval: false })
    const rs = await run(sessions, undefined, (rs) => (rs.view.card = { last4: '4242' }))
    const raw = await store.load(rs.session.id, Date.now())
    const stored = raw?.attributes.get('card') ?? ''
    assert.match(stored, /^e1\./)
    assert.ok(!stored.includes('4242'))
    assert.deepEqual((await run(sessions, cookiePair(rs))).view.card, { last4: '4242' })
    await sessions.close()
  })

  it('rotates keys: old values readable, resealed with the new key on access', async () => {
    const store = memoryStore()
    const v1 = createSessions({ store, secret: SECRET, encryption: { keys: [K1] }, sweepInterval: false })
    const cookie = cookiePair(await run(v1, undefined, (rs) => (rs.view.user = 'alice')))
    const v2 = createSessions({ store, secret: SECRET, encryption: { keys: [K2, K1] }, sweepInterval: false })
    const rs = await run(v2, cookie, (rs) => assert.equal(rs.view.user, 'alice'))
    const v3 = createSessions({ store, secret: SECRET, encryption: { keys: [K2] }, sweepInterval: false })
    assert.equal((await run(v3, cookie)).view.user, 'alice', 'resealed with K2 by the previous read')
    assert.ok(rs)
    await v2.close()
  })

  it('a value tampered at rest, or sealed under another attribute name, fails authentication', async () => {
    const store = memoryStore()
    const sessions = createSessions({ store, secret: SECRET, encryption: { keys: [K1] }, sweepInterval: false })
    const rs = await run(sessions, undefined, (rs) => {
      rs.view.a = 'secret-a'
      rs.view.b = 'secret-b'
    })
    const raw = await store.load(rs.session.id, Date.now())
    const a = raw?.attributes.get('a') as string
    const flipped = a.slice(0, -2) + (a.at(-2) === 'A' ? 'B' : 'A') + a.slice(-1)
    await store.apply(rs.session.id, {
      attributes: new Map([
        ['a', { op: 'set', value: flipped }],
        ['b', { op: 'set', value: a }],
      ]),
      lastAccessedAt: Date.now(),
      expiresAt: Date.now() + 60_000,
    })
    const next = await run(sessions, cookiePair(rs))
    assert.throws(() => next.view.a, SessionDataError)
    assert.throws(() => next.view.b, SessionDataError)
    await sessions.close()
  })
})
