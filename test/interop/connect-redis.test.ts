/**
 * Adoption of express-session + connect-redis sessions. The old data is made by the real
 * packages (express-session 1.x, connect-redis 9, node-redis) on a private redis-server;
 * sessionmesh then serves the same browser over real HTTP.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { RedisStore } from 'connect-redis'
import signature from 'cookie-signature'
import express, { type RequestHandler } from 'express'
import expressSession from 'express-session'
import { createClient } from 'redis'
import { session } from '../../src/adapters/express/index.js'
import { createSessions, type Sessions, type SessionsOptions } from '../../src/index.js'
import { type ConnectRedisSessions, connectRedisSessions } from '../../src/interop/connect-redis.js'
import { redisStore } from '../../src/stores/redis/index.js'
import { type AppHandle, listen } from '../../harness/http.js'
import { freePort, type RedisProcess, startRedis } from '../../harness/redis.js'

const OLD_A = 'old-express-session-secret-A'
const OLD_B = 'old-express-session-secret-B'
const OTHER = 'some-other-apps-secret'
const NEW_SECRET = 'sessionmesh-test-secret-0123456789abcdef'

type OldSessionData = { user?: { name: string }; cart?: unknown[] }

interface Reply {
  status: number
  body: { user: { name: string } | null; cart: unknown; principal: string | null }
  setCookies: string[]
}

let redis: RedisProcess
let client: ReturnType<typeof createClient>
let oldApp: AppHandle
let source: ConnectRedisSessions
const toClose: Array<() => Promise<void>> = []

/** The old application: express-session + connect-redis, one login route per way of signing. */
function startOldApp(): Promise<AppHandle> {
  const store = new RedisStore({ client })
  // An app whose store keeps records an hour whatever the cookie says (connect-redis `ttl` as a function).
  const longTtlStore = new RedisStore({ client, ttl: () => 3600 })
  const withSecret = (secret: string | string[], s = store): RequestHandler =>
    expressSession({ store: s, secret, resave: false, saveUninitialized: false })
  const login: RequestHandler = (req, res) => {
    const data = req.session as unknown as OldSessionData
    data.user = { name: typeof req.query.user === 'string' ? req.query.user : '' }
    data.cart = [{ sku: 'tea', qty: 2 }]
    res.json({ ok: true })
  }
  const app = express()
  app.post('/login', withSecret(OLD_A), login)
  app.post('/login-b', withSecret([OLD_B, OLD_A]), login) // B signs (the newer old secret)
  app.post('/login-other', withSecret(OTHER), login)
  app.post('/login-expired', withSecret(OLD_A, longTtlStore), (req, res, next) => {
    const old = req.session as unknown as { cookie: { expires: Date } }
    old.cookie.expires = new Date(Date.now() - 60_000)
    login(req, res, next)
  })
  return listen(createServer(app))
}

/** A sessionmesh app over `sessions`: read the user, log out, and a streamed answer. */
async function startNewApp(sessions: Sessions): Promise<AppHandle> {
  const app = express()
  app.use(session(sessions))
  const me = (req: express.Request) => ({
    user: (req.session.user as unknown) ?? null,
    cart: (req.session.cart as unknown) ?? null,
    principal: req.session.principal,
  })
  app.get('/me', (req, res) => {
    res.json(me(req))
  })
  app.post('/theme', (req, res) => {
    req.session.theme = 'dark'
    res.json(me(req))
  })
  app.post('/logout', (req, res, next) => {
    req.session.destroy().then(() => res.json({ ok: true }), next)
  })
  app.get('/stream', (req, res) => {
    res.write('{"user":')
    res.end(`${JSON.stringify(req.session.user ?? null)}}`)
  })
  const handle = await listen(createServer(app))
  toClose.push(() => handle.close())
  return handle
}

let stores = 0

/** sessionmesh on the same Redis (its own key prefix per test, so counts and principals do not mix). */
function newSessions(options: Partial<SessionsOptions> = {}): Sessions {
  const sessions = createSessions({
    store: redisStore({ url: redis.url, prefix: `sm${++stores}:` }),
    secret: NEW_SECRET,
    sweepInterval: false,
    migrateFrom: source,
    ...options,
  })
  toClose.push(() => sessions.close())
  return sessions
}

/** Logs in on the old app; the `connect.sid=...` pair as a browser would send it, and the old id. */
async function oldLogin(route = '/login', user = 'alice'): Promise<{ cookie: string; sid: string; key: string }> {
  const r = await fetch(`${oldApp.url}${route}?user=${user}`, { method: 'POST' })
  assert.equal(r.status, 200)
  const cookie = r.headers.getSetCookie().find((c) => c.startsWith('connect.sid='))?.split(';')[0]
  assert.ok(cookie, 'express-session set connect.sid')
  const value = decodeURIComponent(cookie.slice('connect.sid='.length))
  assert.match(value, /^s:/)
  const sid = value.slice(2, value.lastIndexOf('.'))
  const key = `sess:${sid}`
  assert.ok(await client.exists(key), 'connect-redis stored the session')
  return { cookie, sid, key }
}

async function call(app: AppHandle, path: string, cookie: string | null, method = 'GET'): Promise<Reply> {
  const r = await fetch(`${app.url}${path}`, { method, headers: cookie ? { cookie } : {} })
  const text = await r.text()
  return { status: r.status, body: (text.startsWith('{') ? JSON.parse(text) : {}) as Reply['body'], setCookies: r.headers.getSetCookie() }
}

const cookieLine = (reply: Reply, name: string) => reply.setCookies.find((c) => c.startsWith(`${name}=`))
const pairOf = (line: string | undefined) => line?.split(';')[0]

/** Every old session (key and value) in the test Redis, to show a request changed nothing there. */
async function snapshot(): Promise<Record<string, string | null>> {
  const keys = (await client.keys('sess:*')).sort()
  const values = keys.length ? await client.mGet(keys) : []
  return Object.fromEntries(keys.map((k, i) => [k, values[i] ?? null]))
}

before(async () => {
  redis = await startRedis()
  client = createClient({ url: redis.url })
  client.on('error', () => {})
  await client.connect()
  oldApp = await startOldApp()
  source = connectRedisSessions<OldSessionData>({
    redis: { url: redis.url },
    secret: [OLD_A, OLD_B],
    principal: (d) => d.user?.name,
  })
})

after(async () => {
  for (const close of toClose.reverse()) await close()
  await source?.close()
  await oldApp?.close()
  if (client?.isOpen) await client.close()
  await redis?.stop()
})

describe('adopting express-session + connect-redis sessions', () => {
  it('keeps the user logged in: same data, new cookie, old cookie cleared, old record deleted', async () => {
    const sessions = newSessions()
    const app = await startNewApp(sessions)
    const old = await oldLogin('/login', 'alice')

    const first = await call(app, '/me', old.cookie)
    assert.equal(first.status, 200)
    assert.deepEqual(first.body, { user: { name: 'alice' }, cart: [{ sku: 'tea', qty: 2 }], principal: 'alice' })
    const sid = pairOf(cookieLine(first, 'sid'))
    assert.ok(sid && sid.length > 'sid='.length, 'the new sessionmesh cookie is set')
    const cleared = cookieLine(first, 'connect.sid')
    assert.ok(cleared, 'the old cookie is cleared')
    assert.match(cleared, /^connect\.sid=;/)
    assert.match(cleared, /Max-Age=0/)
    assert.match(cleared, /Path=\//)
    assert.equal(await client.exists(old.key), 0, 'the sess:<id> record is gone')

    const next = await call(app, '/me', sid)
    assert.deepEqual(next.body, { user: { name: 'alice' }, cart: [{ sku: 'tea', qty: 2 }], principal: 'alice' })
    assert.deepEqual(next.setCookies, [], 'a read with the new cookie sets nothing')

    const found = await sessions.findByPrincipal('alice')
    assert.equal(found.length, 1)
    assert.deepEqual(found[0]?.get('user'), { name: 'alice' })
    assert.deepEqual(found[0]?.keys().sort(), ['cart', 'user'], 'express-session\'s `cookie` bookkeeping is not copied')

    const replay = await call(app, '/me', old.cookie)
    assert.equal(replay.body.user, null, 'the old cookie alone is worth nothing afterwards')
  })

  it('verifies with every old secret (rotation): a cookie signed with B is adopted under secret [A, B]', async () => {
    const app = await startNewApp(newSessions())
    const old = await oldLogin('/login-b', 'bob')
    assert.equal(signature.unsign(decodeURIComponent(old.cookie.slice(12)).slice(2), OLD_A), false, 'really signed with B, not A')
    const r = await call(app, '/me', old.cookie)
    assert.equal(r.status, 200)
    assert.deepEqual(r.body.user, { name: 'bob' })
    assert.equal(await client.exists(old.key), 0)
  })

  it('gives "no session" and leaves Redis alone for tampered, foreign, unsigned and corrupt cookies/records', async () => {
    const errors: Error[] = []
    const sessions = newSessions()
    sessions.events.on('error', (e) => errors.push(e))
    const app = await startNewApp(sessions)
    const good = await oldLogin('/login', 'carol')
    const foreign = await oldLogin('/login-other', 'carol')
    const corrupt = await oldLogin('/login', 'carol')
    await client.set(corrupt.key, '{"user":{"name":"carol"},')
    const notObject = await oldLogin('/login', 'carol')
    await client.set(notObject.key, '["user","carol"]')

    const value = decodeURIComponent(good.cookie.slice('connect.sid='.length))
    const lastChar = value.at(-1) === 'A' ? 'B' : 'A'
    const forgedSid = 'x'.repeat(good.sid.length)
    const cases: Record<string, string> = {
      'tampered signature': `connect.sid=${encodeURIComponent(value.slice(0, -1) + lastChar)}`,
      'tampered id': `connect.sid=${encodeURIComponent(`s:${forgedSid}${value.slice(2 + good.sid.length)}`)}`,
      'signed with another secret': foreign.cookie,
      'unsigned (the bare id)': `connect.sid=${good.sid}`,
      'unsigned with s: prefix': `connect.sid=${encodeURIComponent(`s:${good.sid}`)}`,
      'corrupt JSON record': corrupt.cookie,
      'record not an object': notObject.cookie,
    }
    const before = await snapshot()
    for (const [name, cookie] of Object.entries(cases)) {
      const r = await call(app, '/me', cookie)
      assert.equal(r.status, 200, name)
      assert.deepEqual(r.body, { user: null, cart: null, principal: null }, name)
      assert.deepEqual(r.setCookies, [], `${name}: nothing set, the old cookie not cleared`)
    }
    assert.deepEqual(await snapshot(), before, 'Redis is unchanged')
    assert.ok(before[good.key], 'the good record is still there')
    assert.deepEqual(errors, [], 'bad cookies and corrupt records are not errors')
    assert.equal((await sessions.store.count(Date.now())), 0, 'no session was created')
  })

  it('does not adopt an old session whose cookie.expires has passed', async () => {
    const app = await startNewApp(newSessions())
    const old = await oldLogin('/login-expired', 'dave')
    const stored = JSON.parse((await client.get(old.key)) as string) as { cookie: { expires: string } }
    assert.ok(Date.parse(stored.cookie.expires) < Date.now(), 'express-session stored an expiry in the past')
    const before = await snapshot()
    const r = await call(app, '/me', old.cookie)
    assert.equal(r.status, 200)
    assert.equal(r.body.user, null)
    assert.deepEqual(r.setCookies, [])
    assert.deepEqual(await snapshot(), before)
  })

  it('does not let a hostile record pollute Object.prototype', async () => {
    const sessions = newSessions()
    const app = await startNewApp(sessions)
    const old = await oldLogin('/login', 'mallory')
    const stored = JSON.parse((await client.get(old.key)) as string) as { cookie: unknown }
    await client.set(
      old.key,
      `{"cookie":${JSON.stringify(stored.cookie)},"user":{"name":"mallory","__proto__":{"isAdmin":true}},` +
        `"__proto__":{"polluted":"top"},"constructor":{"prototype":{"polluted":"ctor"}},"prototype":{"polluted":"p"},` +
        `"cart":[{"__proto__":{"polluted":"nested"},"sku":"x"}]}`,
    )
    const r = await call(app, '/me', old.cookie)
    assert.equal(r.status, 200)
    assert.deepEqual(r.body.user, { name: 'mallory' })
    assert.deepEqual(r.body.cart, [{ sku: 'x' }])
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
    assert.equal(({} as Record<string, unknown>).isAdmin, undefined)
    const [adopted] = await sessions.findByPrincipal('mallory')
    assert.ok(adopted)
    assert.deepEqual(adopted.keys().sort(), ['cart', 'user'], 'no __proto__, constructor or prototype attribute')
    assert.deepEqual(Object.keys(adopted.get<object>('user') ?? {}), ['name'])
  })

  it('a logout on the first request also ends the old session (it does not come back with the old cookie)', async () => {
    const sessions = newSessions()
    const app = await startNewApp(sessions)
    const old = await oldLogin('/login', 'erin')
    const out = await call(app, '/logout', old.cookie, 'POST')
    assert.equal(out.status, 200)
    assert.match(cookieLine(out, 'connect.sid') ?? '', /^connect\.sid=;.*Max-Age=0/)
    assert.equal(await client.exists(old.key), 0)
    assert.equal((await call(app, '/me', old.cookie)).body.user, null)
    assert.deepEqual(await sessions.findByPrincipal('erin'), [])
  })

  it('a streamed first answer (no cookie can be added) keeps the old session for the next request', async () => {
    const app = await startNewApp(newSessions())
    const old = await oldLogin('/login', 'frank')
    const streamed = await call(app, '/stream', old.cookie)
    assert.deepEqual(streamed.body.user, { name: 'frank' })
    assert.deepEqual(streamed.setCookies, [], 'headers went out before the save: no new cookie, so no clearing')
    assert.equal(await client.exists(old.key), 1, 'the old record stays: the browser still only has connect.sid')
    const next = await call(app, '/me', old.cookie)
    assert.deepEqual(next.body.user, { name: 'frank' })
    assert.ok(cookieLine(next, 'sid'))
    assert.equal(await client.exists(old.key), 0)
  })

  it('with cookie name connect.sid for sessionmesh too, the new cookie replaces the old one (not cleared after it)', async () => {
    const app = await startNewApp(newSessions({ cookie: { name: 'connect.sid' } }))
    const old = await oldLogin('/login', 'gina')
    const first = await call(app, '/me', old.cookie)
    assert.deepEqual(first.body.user, { name: 'gina' })
    const lines = first.setCookies.filter((c) => c.startsWith('connect.sid='))
    assert.equal(lines.length, 1, 'one connect.sid line: the new token')
    const pair = pairOf(lines[0])
    assert.ok(pair && pair !== 'connect.sid=' && pair !== old.cookie)
    assert.deepEqual((await call(app, '/me', pair)).body.user, { name: 'gina' })
  })

  it('old Redis unreachable: 503 by default, and onStoreError continue serves without saving (no session that would shadow the old cookie)', async () => {
    const deadClient = createClient({ url: `redis://127.0.0.1:${await freePort()}`, socket: { reconnectStrategy: 50 } })
    deadClient.on('error', () => {})
    const dead = connectRedisSessions({ redis: { client: deadClient }, secret: OLD_A, timeout: 200 })
    toClose.push(async () => {
      deadClient.destroy()
      await dead.close()
    })
    const cookie = `connect.sid=${encodeURIComponent(`s:${signature.sign('some-old-id', OLD_A)}`)}`
    const failing = await startNewApp(newSessions({ migrateFrom: dead }))
    const r = await call(failing, '/me', cookie)
    assert.equal(r.status, 503)

    const lenient = newSessions({ migrateFrom: dead, onStoreError: 'continue' })
    const app = await startNewApp(lenient)
    const w = await call(app, '/theme', cookie, 'POST')
    assert.equal(w.status, 200)
    assert.deepEqual(w.setCookies, [])
    assert.equal(await lenient.store.count(Date.now()), 0)
  })
})

describe('connectRedisSessions options', () => {
  it('refuses options that cannot work', () => {
    const redis = { url: 'redis://127.0.0.1:1' }
    const bad: Array<Record<string, unknown>> = [
      { redis, secret: '' },
      { redis, secret: [] },
      { redis, secret: ['a', 3] },
      { secret: 'a' },
      { redis: {}, secret: 'a' },
      { redis, secret: 'a', cookieName: 'bad name' },
      { redis, secret: 'a', cookiePath: 'relative' },
      { redis, secret: 'a', serializer: {} },
      { redis, secret: 'a', principal: 'user' },
      { redis, secret: 'a', timeout: -1 },
    ]
    for (const options of bad) {
      assert.throws(() => connectRedisSessions(options as never), { code: 'CONFIGURATION' }, JSON.stringify(options))
    }
  })

  it('defaults to connect-redis and express-session defaults and opens no connection until used', async () => {
    const s = connectRedisSessions({ redis: { url: 'redis://127.0.0.1:1' }, secret: 'a' })
    assert.equal(s.cookieName, 'connect.sid')
    assert.equal(s.cookiePath, '/')
    assert.equal(await s.load('not-signed'), null, 'an unsigned value is refused before any Redis call')
    await s.close()
  })
})
