/**
 * Encryption at rest bound to the session: a sealed value authenticates the session's binding
 * (kept across id changes) and its attribute name; plaintext is refused unless the migration
 * switch is on; values sealed before the binding still open and are resealed.
 */
import assert from 'node:assert/strict'
import { createCipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { createSessions, InvalidAttributeError, memoryStore, SessionDataError } from '../../src/index.js'
import type { Sessions, SessionStore } from '../../src/index.js'
import { cookiePair, request, run, SECRET } from './helpers.js'

const KEY = 'binding-tests-key-0123456789abcdefghijklmn'
const RESERVED = '\u0000sessionmesh.binding'

function make(store: SessionStore, extra: { acceptPlaintext?: boolean } = {}): Sessions {
  return createSessions({ store, secret: SECRET, encryption: { keys: [KEY], ...extra }, sweepInterval: false })
}

/** Writes raw stored values into a session's record, as someone with write access to the store could. */
async function plant(store: SessionStore, id: string, values: Record<string, string>): Promise<void> {
  await store.apply(id, {
    attributes: new Map(Object.entries(values).map(([name, value]) => [name, { op: 'set' as const, value }])),
    lastAccessedAt: Date.now(),
    expiresAt: Date.now() + 60_000,
  })
}

async function raw(store: SessionStore, id: string, name: string): Promise<string> {
  return (await store.load(id, Date.now()))?.attributes.get(name) as string
}

/** A value sealed the way sessionmesh did before the binding: AES-256-GCM, the attribute name alone as AAD. */
function sealUnbound(name: string, json: string): string {
  const key = Buffer.from(hkdfSync('sha256', Buffer.from(KEY), 'sessionmesh', 'aes-256-gcm at rest', 32))
  const kid = createHash('sha256').update(key).digest('base64url').slice(0, 8)
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(Buffer.from(name))
  const body = Buffer.concat([iv, cipher.update(json, 'utf8'), cipher.final(), cipher.getAuthTag()])
  return `e1.${kid}.${body.toString('base64url')}`
}

describe('encryption bound to the session', () => {
  it('a sealed value transplanted from session A into session B does not open in B; B otherwise works', async () => {
    const store = memoryStore()
    const sessions = make(store)
    const a = await run(sessions, undefined, (rs) => (rs.view.card = { last4: '4242', owner: 'mallory' }))
    const b = await run(sessions, undefined, (rs) => {
      rs.view.card = { last4: '1111', owner: 'alice' }
      rs.view.user = 'alice'
    })
    await plant(store, b.session.id, { card: await raw(store, a.session.id, 'card') })
    const victim = await run(sessions, cookiePair(b), (rs) => {
      assert.throws(() => rs.view.card, SessionDataError)
      assert.throws(() => rs.session.get('card'), /sealed|authentication/)
      assert.equal(rs.view.user, 'alice', 'the other attributes still read')
      rs.view.theme = 'dark'
    })
    assert.equal(victim.session.destroyed, false)
    assert.deepEqual((await run(sessions, cookiePair(b))).session.get('theme'), 'dark', 'B still saves')
    assert.deepEqual((await run(sessions, cookiePair(a))).view.card, { last4: '4242', owner: 'mallory' }, 'A is untouched')
    // Moving A's binding along with the value makes B's own values fail instead: no mix of the two.
    await plant(store, b.session.id, { [RESERVED]: await raw(store, a.session.id, RESERVED) })
    const mixed = await run(sessions, cookiePair(b))
    assert.deepEqual(mixed.view.card, { last4: '4242', owner: 'mallory' })
    assert.throws(() => mixed.view.user, SessionDataError)
    await sessions.close()
  })

  it('a plaintext value is refused while encryption is on', async () => {
    const store = memoryStore()
    const sessions = make(store)
    const rs = await run(sessions, undefined, (rs) => (rs.view.user = 'alice'))
    await plant(store, rs.session.id, { role: '"admin"' })
    const next = await run(sessions, cookiePair(rs))
    assert.throws(() => next.view.role, { name: 'SessionDataError', message: /unencrypted/ })
    assert.equal(next.view.user, 'alice')
    assert.equal(await raw(store, rs.session.id, 'role'), '"admin"', 'left as it was, not resealed')
    await sessions.close()
  })

  it('acceptPlaintext migrates: plaintext from before encryption reads once and is sealed on save', async () => {
    const store = memoryStore()
    const before = createSessions({ store, secret: SECRET, sweepInterval: false })
    const old = await run(before, undefined, (rs) => (rs.view.cart = ['book']))
    assert.equal(await raw(store, old.session.id, 'cart'), '["book"]')
    const migrating = make(store, { acceptPlaintext: true })
    await run(migrating, cookiePair(old), (rs) => assert.deepEqual(rs.view.cart, ['book']))
    const sealed = await raw(store, old.session.id, 'cart')
    assert.match(sealed, /^e1\.[A-Za-z0-9_-]{8}\.b\./)
    // Sealed now, and bound: it reads without the switch too.
    assert.deepEqual((await run(make(store), cookiePair(old))).view.cart, ['book'])
    await before.close()
  })

  it('values sealed before the binding still open and are resealed bound on the next save', async () => {
    const store = memoryStore()
    const sessions = make(store)
    const rs = await run(sessions, undefined, (rs) => (rs.view.user = 'alice'))
    await plant(store, rs.session.id, { card: sealUnbound('card', '{"last4":"4242"}') })
    await run(sessions, cookiePair(rs), (rs) => assert.deepEqual(rs.view.card, { last4: '4242' }))
    const resealed = await raw(store, rs.session.id, 'card')
    assert.match(resealed, /^e1\.[A-Za-z0-9_-]{8}\.b\./)
    // Resealed bound: moved to another session it no longer opens.
    const other = await run(sessions, undefined, (rs) => (rs.view.user = 'bob'))
    await plant(store, other.session.id, { card: resealed })
    const moved = await run(sessions, cookiePair(other))
    assert.throws(() => moved.view.card, SessionDataError)
    await sessions.close()
  })

  it('regenerate and periodic renewal keep sealed values readable; regenerate({ keep: false }) starts a new binding', async () => {
    const store = memoryStore()
    const sessions = make(store)
    const first = await run(sessions, undefined, (rs) => (rs.view.card = { last4: '4242' }))
    const binding = await raw(store, first.session.id, RESERVED)
    const login = await run(sessions, cookiePair(first), async (rs) => {
      await rs.session.regenerate()
      rs.session.principal = 'user:alice'
    })
    assert.notEqual(login.session.id, first.session.id)
    assert.deepEqual((await run(sessions, cookiePair(login))).view.card, { last4: '4242' })
    assert.equal(await raw(store, login.session.id, RESERVED), binding)
    const fresh = await run(sessions, cookiePair(login), async (rs) => {
      await rs.session.regenerate({ keep: false })
      rs.view.card = { last4: '9999' }
    })
    assert.notEqual(await raw(store, fresh.session.id, RESERVED), binding)
    assert.deepEqual((await run(sessions, cookiePair(fresh))).view.card, { last4: '9999' })
    await sessions.close()
  })

  it('the binding is not an attribute to the application', async () => {
    const sessions = make(memoryStore())
    const rs = await run(sessions, undefined, (rs) => (rs.view.a = 1))
    const next = await run(sessions, cookiePair(rs))
    assert.deepEqual(next.session.keys(), ['a'])
    assert.deepEqual(Object.keys(next.view), ['a'])
    assert.deepEqual({ ...next.session.toJSON() }, { a: 1 })
    assert.equal(next.session.has(RESERVED), false)
    assert.equal(next.session.get(RESERVED), undefined)
    assert.throws(() => next.session.set(RESERVED, 'x'), InvalidAttributeError)
    assert.throws(() => next.session.delete(RESERVED), InvalidAttributeError)
    await sessions.close()
  })
})

describe('CSRF synchronizer tokens', () => {
  it('csrfToken() is bound to the session, survives regenerate, and verifies timing-safely', async () => {
    const sessions = createSessions({ store: memoryStore(), secret: SECRET, sweepInterval: false })
    const rs = await sessions.open(request())
    const token: string = rs.view.csrfToken()
    assert.match(token, /^[A-Za-z0-9_-]{43}$/)
    await rs.commit()
    const cookie = cookiePair(rs)
    const later = await run(sessions, cookie, async (rs) => {
      assert.equal(rs.session.csrfToken(), token, 'the same token on every request')
      assert.equal(sessions.verifyCsrfToken(rs.session, token), true)
      await rs.session.regenerate()
    })
    const after = await run(sessions, cookiePair(later))
    assert.equal(sessions.verifyCsrfToken(after.session, token), true, 'kept across regenerate')
    const other = await run(sessions, undefined, (rs) => rs.session.csrfToken())
    assert.equal(sessions.verifyCsrfToken(other.session, token), false, "another session's token")
    for (const bad of ['', 'x', token.slice(0, -1), `${token.slice(0, -1)}${token.at(-1) === 'A' ? 'B' : 'A'}`, undefined, 42, {}, ['a']]) {
      assert.equal(sessions.verifyCsrfToken(after.session, bad), false, JSON.stringify(bad))
    }
    const reset = await run(sessions, cookiePair(later), (rs) => rs.session.regenerate({ keep: false }).then(() => rs.session.csrfToken()))
    assert.equal(sessions.verifyCsrfToken(reset.session, token), false, 'a fresh session gets a fresh token')
    await sessions.close()
  })

  it('tokens follow secret rotation: issued with the old secret, verified with [new, old]', async () => {
    const store = memoryStore()
    const OLD = 'old-secret-0123456789-abcdefghijklmnopq'
    const NEW = 'new-secret-0123456789-abcdefghijklmnopq'
    const v1 = createSessions({ store, secret: OLD, sweepInterval: false })
    let token = ''
    const rs = await run(v1, undefined, (rs) => (token = rs.session.csrfToken()))
    const v2 = createSessions({ store, secret: [NEW, OLD], sweepInterval: false })
    const s = await v2.get(rs.session.id)
    assert.ok(s)
    assert.equal(v2.verifyCsrfToken(s, token), true)
    assert.notEqual(s.csrfToken(), token, 'the new secret issues')
    await v1.close()
    await v2.close()
  })
})
