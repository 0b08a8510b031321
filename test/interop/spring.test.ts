/**
 * Spring Session interop: sessionmesh reading and writing Spring Session Data Redis' layout
 * (RedisIndexedSessionRepository, GenericJackson2JsonRedisSerializer) and its SESSION cookie.
 * Spring's side is played by the exact Redis commands Spring issues (fixtures/spring/
 * spring-writes.ts, from Spring Session's source) with values from Spring's own tests
 * (fixtures/spring/jackson-fixtures.ts); sessionmesh's side is a real Express app.
 *
 * Run: node --import tsx --test test/interop/spring.test.ts
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import { createClient } from 'redis'
import { session } from '../../src/adapters/express/index.js'
import { createSessions, type Sessions } from '../../src/index.js'
import { springSessionStore } from '../../src/interop/spring/store.js'
import { springSessionTokens } from '../../src/interop/spring/tokens.js'
import { type AppHandle, listen } from '../../harness/http.js'
import { describeStoreConformance, sessionRecord } from '../../src/testing/index.js'
import { startRedis, type RedisProcess } from '../../harness/redis.js'
import { jacksonHarness } from './fixtures/spring/harness.js'
import { DATA_REDIS, HARNESS, SECURITY } from './fixtures/spring/jackson-fixtures.js'
import {
  changeSessionIdWrites,
  deleteByIdWrites,
  JAVADOC_SESSION,
  keysOf,
  newSessionWrites,
  PRINCIPAL_NAME_INDEX_NAME,
  removeAttributeWrites,
  roundUpToNextMinute,
  type SpringSession,
  touchWrites,
} from './fixtures/spring/spring-writes.js'

const NS = 'spring:session'
const PFIELD = `sessionAttr:${PRINCIPAL_NAME_INDEX_NAME}`
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

let redis: RedisProcess
let raw: ReturnType<typeof createClient>

before(async () => {
  redis = await startRedis()
  raw = createClient({ url: redis.url })
  await raw.connect()
})
after(async () => {
  await raw.close()
  await redis.stop()
})

// Not `atomic`: the suite sends increment, append and merge through the core's compare-and-set, as createSessions does.
describeStoreConformance('spring-session layout', () => springSessionStore({ url: redis.url, namespace: 'conformance:spring:session' }))

/** Replays Spring's commands on the raw client. */
async function springDoes(writes: string[][]): Promise<void> {
  for (const w of writes) await raw.sendCommand(w)
}

/** A Spring session written as Spring writes it, with the javadoc's 30-minute timeout. */
function springSession(attributes: Record<string, string>, principal?: string, overrides: Partial<SpringSession> = {}): SpringSession {
  const now = Date.now()
  return { id: randomUUID(), creationTime: now - 60_000, lastAccessedTime: now - 1_000, maxInactiveInterval: 1800, attributes, ...(principal ? { principal } : {}), ...overrides }
}

const cookieFor = (id: string) => `SESSION=${Buffer.from(id).toString('base64')}`

interface Me {
  id: string
  principal: string | null
  keys: string[]
  values: Record<string, unknown>
}

describe('Spring Session interop over HTTP (Express)', () => {
  let sessions: Sessions
  let app: AppHandle

  before(async () => {
    sessions = createSessions({
      store: springSessionStore({ url: redis.url }),
      tokens: springSessionTokens(),
      cookie: { name: 'SESSION' },
      idleTimeout: '30m',
      sweepInterval: false,
    })
    const a = express()
    a.use(session(sessions))
    a.get('/me', (req, res) => {
      res.json({ id: req.sessionID, principal: req.session.principal, keys: req.session.keys(), values: req.session.toJSON() } satisfies Me)
    })
    a.post('/login', async (req, res) => {
      await req.session.regenerate()
      req.session.principal = 'alice'
      req.session.user = { name: 'alice', roles: ['admin'] }
      res.json({ id: req.sessionID })
    })
    a.post('/forget', (req, res) => {
      delete req.session.user
      res.json({})
    })
    a.post('/rewrite', (req, res) => {
      // Writes every attribute back as it was read (as an app that "saves" its whole session would).
      for (const name of req.session.keys()) req.session.set(name, req.session.get(name))
      res.json({})
    })
    a.post('/logout', async (req, res) => {
      await req.session.destroy()
      res.json({})
    })
    app = await listen(createServer(a))
  })
  after(async () => {
    await app.close()
    await sessions.close()
  })

  const call = async (method: string, path: string, cookie?: string) => {
    const res = await fetch(app.url + path, { method, headers: cookie ? { cookie } : {} })
    const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('SESSION='))
    return { status: res.status, body: (await res.json()) as Me, setCookie }
  }

  it('a user logged in through Spring (Spring Security context) is logged in here, with the SESSION cookie Spring sets', async () => {
    // The javadoc's session id, and its cookie exactly as java.util.Base64 encodes it.
    const s = springSession(
      { SPRING_SECURITY_CONTEXT: SECURITY.securityContextWithUser, 'Demo Key': HARNESS.string as string, cart: HARNESS.hashMap as string },
      'admin',
      { id: JAVADOC_SESSION.id },
    )
    await springDoes(newSessionWrites(NS, s))
    const me = await call('GET', '/me', `SESSION=${JAVADOC_SESSION.cookie}`)
    assert.equal(me.status, 200)
    assert.equal(me.body.id, JAVADOC_SESSION.id)
    assert.equal(me.body.principal, 'admin', 'from SPRING_SECURITY_CONTEXT, as PrincipalNameIndexResolver resolves it')
    assert.deepEqual(me.body.keys.sort(), ['Demo Key', 'SPRING_SECURITY_CONTEXT', 'cart'])
    assert.equal(me.body.values['Demo Key'], 'Demo Value')
    assert.deepEqual(me.body.values.cart, { note: null, total: 19.5, ownerId: { '@class': 'java.lang.Long', '@value': 42 }, items: ['sku-1', 'sku-2'] })
    assert.equal(me.setCookie, undefined, 'a read sets no cookie')
    assert.deepEqual(await sessions.store.findByPrincipal('admin', Date.now()), [JAVADOC_SESSION.id], "Spring's principal index")
  })

  it('a String principal in the security context, and the PRINCIPAL_NAME_INDEX_NAME attribute, name the user too', async () => {
    const a = springSession({ SPRING_SECURITY_CONTEXT: SECURITY.securityContext }, 'admin')
    const b = springSession({ [PRINCIPAL_NAME_INDEX_NAME]: '"bob"', SPRING_SECURITY_CONTEXT: SECURITY.securityContext }, 'bob')
    await springDoes([...newSessionWrites(NS, a), ...newSessionWrites(NS, b)])
    assert.equal((await call('GET', '/me', cookieFor(a.id))).body.principal, 'admin')
    const me = await call('GET', '/me', cookieFor(b.id))
    assert.equal(me.body.principal, 'bob', 'the attribute wins over the security context, as in Spring')
    assert.ok(!me.body.keys.includes(PRINCIPAL_NAME_INDEX_NAME), 'the index attribute is the principal, not an attribute')
  })

  it('an attribute Spring removed (an empty value) is absent here', async () => {
    const s = springSession({ 'Demo Key': HARNESS.string as string, keep: '1' })
    await springDoes([...newSessionWrites(NS, s), ...removeAttributeWrites(NS, s.id, 'Demo Key')])
    assert.deepEqual((await call('GET', '/me', cookieFor(s.id))).body.keys, ['keep'])
  })

  it('a session Spring deleted (deleteById), or one past its maxInactiveInterval, is no session here', async () => {
    const deleted = springSession({ SPRING_SECURITY_CONTEXT: SECURITY.securityContext }, 'admin')
    await springDoes([...newSessionWrites(NS, deleted), ...deleteByIdWrites(NS, deleted)])
    const idle = springSession({ x: '1' }, undefined, { lastAccessedTime: Date.now() - 1_801_000 })
    await springDoes(newSessionWrites(NS, idle))
    for (const s of [deleted, idle]) {
      const me = await call('GET', '/me', cookieFor(s.id))
      assert.equal(me.status, 200)
      assert.equal(me.body.principal, null)
      assert.notEqual(me.body.id, s.id)
      assert.deepEqual(me.body.keys, [])
    }
  })

  it('after Spring changes the session id (changeSessionId), the new cookie works and the old one does not', async () => {
    const s = springSession({ SPRING_SECURITY_CONTEXT: SECURITY.securityContext }, 'admin')
    const renamed = randomUUID()
    await springDoes([...newSessionWrites(NS, s), ...changeSessionIdWrites(NS, s, renamed)])
    assert.equal((await call('GET', '/me', cookieFor(renamed))).body.principal, 'admin')
    assert.equal((await call('GET', '/me', cookieFor(s.id))).body.principal, null)
  })

  it('login through Node writes exactly the keys and values Spring writes (and reads)', async () => {
    const login = await call('POST', '/login')
    assert.ok(login.setCookie, 'a new session sets the cookie')
    assert.match(login.setCookie, /; HttpOnly/)
    const value = /^SESSION=([^;]*)/.exec(login.setCookie)?.[1] as string
    const id = Buffer.from(value, 'base64').toString()
    assert.match(id, UUID, 'Spring-style id: a random UUID')
    assert.equal(value, Buffer.from(id).toString('base64'), "the cookie is the id's standard base64, as DefaultCookieSerializer writes it")
    assert.equal(login.body.id, id)

    const k = keysOf(NS, id)
    const hash = await raw.hGetAll(k.session)
    const created = Number(hash.creationTime)
    const expected: SpringSession = {
      id,
      creationTime: created,
      lastAccessedTime: Number(hash.lastAccessedTime),
      maxInactiveInterval: 1800,
      attributes: {
        user: '{"@class":"java.util.HashMap","name":"alice","roles":["java.util.ArrayList",["admin"]]}',
        [PRINCIPAL_NAME_INDEX_NAME]: '"alice"',
      },
      principal: 'alice',
    }
    // What Spring would have written for the same session, under another namespace.
    await springDoes(newSessionWrites('fixture:spring:session', expected))
    const f = keysOf('fixture:spring:session', id)
    const springHash = await raw.hGetAll(f.session)
    const ours = Object.fromEntries(Object.entries(hash).filter(([field]) => !field.startsWith('sessionmesh:')))
    assert.deepEqual(ours, springHash, 'Spring fields and attributes byte for byte')
    assert.ok(created > 2 ** 31 && Number.isInteger(created), 'creationTime reads as a Long (RedisSessionMapper casts it)')
    assert.equal(hash.maxInactiveInterval, '1800', 'maxInactiveInterval reads as an Integer (seconds)')
    for (const [field, v] of Object.entries(hash)) {
      assert.doesNotThrow(() => JSON.parse(v), `every field is JSON Jackson reads (entries() deserializes all): ${field}`)
      if (field.startsWith('sessionmesh:')) assert.match(v, /^\d+$/, `${field}: a plain number, ignored by RedisSessionMapper`)
    }
    assert.deepEqual(await raw.sMembers(f.index('alice')), [JSON.stringify(id)])
    assert.ok((await raw.sMembers(k.index('alice'))).includes(JSON.stringify(id)), "in Spring's principal index, as Spring writes the member")
    assert.equal(await raw.get(k.shadow), '', 'the shadow key Spring expires sessions by')
    const shadowTtl = await raw.pTTL(k.shadow)
    assert.ok(shadowTtl > 1_790_000 && shadowTtl <= 1_800_000, `shadow key expires with the session (${shadowTtl})`)
    const bucket = `${NS}:expirations:${roundUpToNextMinute(expected.lastAccessedTime + 1_800_000)}`
    assert.ok((await raw.sMembers(bucket)).includes(JSON.stringify(`expires:${id}`)), "in Spring's minute bucket")
    assert.ok((await raw.sMembers(`fixture:${bucket}`)).includes(JSON.stringify(`expires:${id}`)), 'the same bucket Spring would use')
    const hashTtl = await raw.pTTL(k.session)
    assert.ok(hashTtl > 2_090_000 && hashTtl <= 2_100_000, `hash kept 5 minutes past expiry, as Spring does (${hashTtl})`)

    const harness = await jacksonHarness()
    if (harness) {
      const read = await harness.roundtrip([hash['sessionAttr:user'] as string, hash[PFIELD] as string, hash.creationTime as string, hash.maxInactiveInterval])
      assert.deepEqual(read.map((r) => r.javaClass), ['java.util.HashMap', 'java.lang.String', 'java.lang.Long', 'java.lang.Integer'], 'real Jackson reads them')
    }

    const me = await call('GET', '/me', login.setCookie.split(';')[0])
    assert.equal(me.body.principal, 'alice')
    assert.deepEqual(me.body.values.user, { name: 'alice', roles: ['admin'] })
  })

  it('an attribute removed in Node is written as Spring writes a removal (an empty value)', async () => {
    const login = await call('POST', '/login')
    const cookie = (login.setCookie as string).split(';')[0] as string
    await call('POST', '/forget', cookie)
    const hash = await raw.hGetAll(keysOf(NS, login.body.id).session)
    assert.equal(hash['sessionAttr:user'], '')
    assert.deepEqual((await call('GET', '/me', cookie)).body.keys, [])
  })

  it('values Spring wrote (with @class hints and typed wrappers) are written back byte for byte', async () => {
    const attributes: Record<string, string> = {}
    for (const [name, json] of Object.entries({ ...DATA_REDIS, ...SECURITY, ...HARNESS })) attributes[name] = json
    attributes.SPRING_SECURITY_CONTEXT = SECURITY.securityContextWithUser
    const s = springSession(attributes, 'admin')
    await springDoes(newSessionWrites(NS, s))
    const rewrite = await call('POST', '/rewrite', cookieFor(s.id))
    assert.equal(rewrite.status, 200)
    const hash = await raw.hGetAll(keysOf(NS, s.id).session)
    assert.ok(Number(hash['sessionmesh:version']) >= 2, 'the rewrite was saved')
    for (const [name, json] of Object.entries(attributes)) assert.equal(hash[`sessionAttr:${name}`], json, name)
    assert.equal(hash.creationTime, String(s.creationTime))
    assert.equal(hash.maxInactiveInterval, '1800')
  })

  it('logout in Node leaves the session as Spring\'s deleteById does, and "log out everywhere" reaches Spring logins', async () => {
    const login = await call('POST', '/login')
    const cookie = (login.setCookie as string).split(';')[0] as string
    const k = keysOf(NS, login.body.id)
    const out = await call('POST', '/logout', cookie)
    assert.match(out.setCookie ?? '', /SESSION=;/, 'the cookie is cleared')
    assert.equal(await raw.hGet(k.session, 'maxInactiveInterval'), '0', 'Spring sees it expired (and its SessionDeletedEvent listener can still read it)')
    assert.equal(await raw.exists(k.shadow), 0)
    assert.ok(!(await raw.sMembers(k.index('alice'))).includes(JSON.stringify(login.body.id)), 'out of the principal index')
    assert.equal((await call('GET', '/me', cookie)).body.principal, null)

    const spring = springSession({ SPRING_SECURITY_CONTEXT: SECURITY.securityContext }, 'everywhere')
    spring.attributes[PRINCIPAL_NAME_INDEX_NAME] = '"everywhere"'
    await springDoes(newSessionWrites(NS, spring))
    assert.equal(await sessions.revokePrincipal('everywhere'), 1)
    assert.equal(await raw.hGet(keysOf(NS, spring.id).session, 'maxInactiveInterval'), '0')
    assert.equal((await call('GET', '/me', cookieFor(spring.id))).body.principal, null)
  })

  it('garbage SESSION cookies get a fresh anonymous session, never an error', async () => {
    const garbage = [
      'x', '====', 'not base64!', '%E0%A4%A', 'MzNm', Buffer.from('../../etc/passwd-aaaaaaaaaaaa').toString('base64'),
      Buffer.from('spring:session:sessions:*').toString('base64'), JAVADOC_SESSION.cookie.replace(/=*$/, '').slice(0, -1),
      JAVADOC_SESSION.id, Buffer.from(JAVADOC_SESSION.id).toString('base64url').replace(/=/g, '') + '-_', 'A'.repeat(4000),
      Buffer.from(`${randomUUID()}.node1`).toString('base64'), Buffer.from('\u00ff'.repeat(40), 'latin1').toString('base64'),
    ]
    for (const value of garbage) {
      const me = await call('GET', '/me', `SESSION=${value}`)
      assert.equal(me.status, 200, value)
      assert.equal(me.body.principal, null)
      assert.match(me.body.id, UUID)
    }
  })
})

describe('Spring Session layout: store details', () => {
  const ns = 'details:spring:session'
  let store: ReturnType<typeof springSessionStore>
  before(async () => {
    store = springSessionStore({ url: redis.url, namespace: ns, absoluteTimeoutMs: 3_600_000 })
  })
  after(async () => {
    await store.close()
  })

  it('a session Spring created gets version 1, fence 0, its maxInactiveInterval as idle timeout and the configured absolute timeout', async () => {
    const s = springSession({ a: '1' })
    await springDoes(newSessionWrites(ns, s))
    const loaded = await store.load(s.id, Date.now())
    assert.ok(loaded)
    assert.deepEqual(
      { ...loaded, attributes: [...loaded.attributes] },
      {
        id: s.id, attributes: [['a', '1']], createdAt: s.creationTime, lastAccessedAt: s.lastAccessedTime, idIssuedAt: s.creationTime,
        idleTimeoutMs: 1_800_000, absoluteTimeoutMs: 3_600_000, expiresAt: s.lastAccessedTime + 1_800_000, principal: null, version: 1, fence: 0,
      },
    )
    assert.equal(await store.load(s.id, s.creationTime + 3_600_000), null, 'the absolute timeout applies to it')
  })

  it("Spring's use of a session moves its expiry here; the sweeper then reports it only when it really expires", async () => {
    const now = Date.now()
    const record = sessionRecord({ idleTimeoutMs: 1_800_000, absoluteTimeoutMs: 12 * 3_600_000, createdAt: now, principal: 'sweep-me' })
    await store.create(record)
    const s: SpringSession = { id: record.id, creationTime: now, lastAccessedTime: now, maxInactiveInterval: 1800, attributes: {} }
    await springDoes(touchWrites(ns, s, now + 20 * 60_000))
    assert.ok(await store.load(record.id, now + 40 * 60_000), 'alive 40 minutes on: Spring used it at minute 20')
    assert.equal((await store.load(record.id, now + 20 * 60_000 + 1_800_000))?.expiresAt, undefined)
    assert.deepEqual(await store.sweep(now + 35 * 60_000), [], 'due by our first expiry, but Spring kept it alive')
    const swept = await store.sweep(now + 51 * 60_000)
    assert.deepEqual(swept, [{ id: record.id, principal: 'sweep-me' }])
    assert.deepEqual(await store.sweep(now + 51 * 60_000), [])
    assert.equal(await raw.hGet(keysOf(ns, record.id).session, 'maxInactiveInterval'), '0', 'Spring sees it ended too')
  })

  it("a maxInactiveInterval Spring changes wins over the idle timeout sessionmesh set", async () => {
    const now = Date.now()
    const record = sessionRecord({ idleTimeoutMs: 60_000, createdAt: now })
    await store.create(record)
    await raw.hSet(keysOf(ns, record.id).session, 'maxInactiveInterval', '600')
    const loaded = await store.load(record.id, now + 120_000)
    assert.equal(loaded?.idleTimeoutMs, 600_000)
    assert.equal(loaded?.expiresAt, now + 600_000)
  })

  it('values that are not JSON (e.g. sealed by `encryption`) are kept as an opaque Java String Spring can still load', async () => {
    const record = sessionRecord({ attributes: new Map([['secret', 'e1.AbCdEfGh.c2VhbGVk']]) })
    await store.create(record)
    assert.equal(await raw.hGet(keysOf(ns, record.id).session, 'sessionAttr:secret'), '"sessionmesh:opaque:e1.AbCdEfGh.c2VhbGVk"')
    assert.equal((await store.load(record.id, Date.now()))?.attributes.get('secret'), 'e1.AbCdEfGh.c2VhbGVk')
  })

  it('refuses options that cannot work', () => {
    const url = redis.url
    assert.throws(() => springSessionStore({ url, namespace: ' ' }), /namespace/)
    assert.throws(() => springSessionStore({ url, absoluteTimeoutMs: 0 }), /absoluteTimeoutMs/)
    assert.throws(() => springSessionStore({ url, expiredRetentionMs: 1.5 }), /expiredRetentionMs/)
    assert.throws(() => springSessionStore({ url, connectTimeoutMs: 0 }), /connectTimeoutMs/)
  })
})

describe('springSessionTokens', () => {
  const tokens = springSessionTokens()

  it('makes UUID ids and carries them as standard padded base64, as DefaultCookieSerializer does', () => {
    const id = tokens.newId()
    assert.match(id, UUID)
    assert.equal(tokens.issue(JAVADOC_SESSION.id), JAVADOC_SESSION.cookie)
    assert.deepEqual(tokens.read(JAVADOC_SESSION.cookie), { id: JAVADOC_SESSION.id, rotated: false })
    assert.equal(tokens.issue('a-custom-generator-id-0123456789'), Buffer.from('a-custom-generator-id-0123456789').toString('base64'))
    assert.ok(tokens.issue('a-custom-generator-id-0123456789').endsWith('='), 'padding kept')
    assert.equal(tokens.read(tokens.issue('a-custom-generator-id-0123456789'))?.id, 'a-custom-generator-id-0123456789')
  })

  it('reads garbage as null without throwing: bad base64, other spellings, unsafe or short ids, huge input', () => {
    const bad: unknown[] = [
      '', 'x', '====', 'not base64!', JAVADOC_SESSION.id, JAVADOC_SESSION.cookie + '=', JAVADOC_SESSION.cookie.replace(/Z/g, '-'),
      Buffer.from(JAVADOC_SESSION.id).toString('base64url') + '_', Buffer.from('short').toString('base64'), Buffer.from('a b c d e f g h i j k l').toString('base64'),
      Buffer.from('spring:session:sessions:*aaaaaa').toString('base64'), Buffer.from(`${JAVADOC_SESSION.id}.jvmroute`).toString('base64'),
      Buffer.from('x'.repeat(129)).toString('base64'), 'A'.repeat(100_000), Buffer.from('é'.repeat(20)).toString('base64'), null, undefined, 42,
    ]
    for (const t of bad) assert.equal(tokens.read(t as string), null, String(t).slice(0, 40))
    assert.equal(tokens.isId('../x'), false)
    assert.equal(tokens.isId(JAVADOC_SESSION.id), true)
  })
})
