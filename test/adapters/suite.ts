/**
 * THE adapter behaviour suite: every adapter runs exactly these tests over real HTTP. An
 * adapter file builds an app serving the routes in ./routes.ts and calls
 * `describeAdapter('name', startApp)`.
 */
import assert from 'node:assert/strict'
import { randomBytes, randomInt } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { sqliteBus } from '../../src/cluster/bus/sqlite.js'
import { createSessions, memoryStore, StoreUnavailableError } from '../../src/index.js'
import { sqliteStore } from '../../src/stores/sqlite/index.js'
import { until } from '../../harness/redis.js'
import type { Sessions, SessionsOptions } from '../../src/index.js'
import { duplicateCookies, type FuzzCase, hostileCookie, hostileFetchMetadata, Rng, sendFromWorker } from '../../harness/fuzz.js'
import { type AppHandle, Client, cookieAttributes, isClearing } from '../../harness/http.js'
import { flakyStore, slowStore } from './stores.js'

export type StartApp = (sessions: Sessions) => Promise<AppHandle>

export const SECRET = randomBytes(32).toString('base64')
const TOKEN = /^[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{43}$/
const SESSION_COOKIE = /^sid=[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/
const HOST_COOKIE = /^__Host-sid=[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Lax$/
const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 10_000)

export interface AppContext {
  url: string
  client: Client
  sessions: Sessions
  /** What `sessions.events` reported as `error` during the test. */
  errors: Error[]
}

/** A manager with `options`, an app over it, and a client; everything closed afterwards. */
export async function withApp(
  startApp: StartApp,
  options: Partial<SessionsOptions>,
  body: (ctx: AppContext) => Promise<void>,
): Promise<void> {
  const sessions = createSessions({ secret: SECRET, sweepInterval: false, ...options })
  const errors: Error[] = []
  sessions.events.on('error', (e) => errors.push(e))
  try {
    const app = await startApp(sessions)
    try {
      await body({ url: app.url, client: new Client(app.url), sessions, errors })
    } finally {
      await app.close()
    }
  } finally {
    await sessions.close()
  }
}

export function describeAdapter(name: string, startApp: StartApp): void {
  const run = (options: Partial<SessionsOptions>, body: (ctx: AppContext) => Promise<void>) => withApp(startApp, options, body)

  describe(`adapter: ${name}`, () => {
    it('sets no cookie until something is stored, then sid; HttpOnly; SameSite=Lax; Path=/ (no Secure on http)', () =>
      run({}, async ({ client }) => {
        const read = await client.get('/get?k=a')
        assert.equal(read.status, 200)
        assert.equal(read.body.has, false)
        assert.deepEqual(read.setCookies, [])
        assert.deepEqual((await client.get('/none')).setCookies, [])
        const write = await client.post('/set?k=a&v=1')
        assert.equal(write.status, 200)
        assert.equal(write.setCookies.length, 1)
        assert.match(write.sessionCookie ?? '', SESSION_COOKIE)
        assert.match(client.token ?? '', TOKEN)
      }))

    it('marks the cookie Secure (as __Host-sid) only for https behind a trusted proxy', async () => {
      await run({ trustProxy: true }, async ({ url }) => {
        const client = new Client(url, '__Host-sid')
        const https = await client.post('/set?k=a&v=1', { headers: { 'x-forwarded-proto': 'https' } })
        assert.match(https.sessionCookie ?? '', HOST_COOKIE)
        assert.ok('secure' in cookieAttributes(https.sessionCookie ?? ''), https.sessionCookie)
        const http = await new Client(url).post('/set?k=a&v=1', { headers: { 'x-forwarded-proto': 'http' } })
        assert.match(http.sessionCookie ?? '', SESSION_COOKIE)
      })
      await run({}, async ({ client }) => {
        const spoofed = await client.post('/set?k=a&v=1', { headers: { 'x-forwarded-proto': 'https' } })
        assert.match(spoofed.sessionCookie ?? '', SESSION_COOKIE)
      })
    })

    it('duplicate cookies: a garbage sid before the real one never logs the user out', () =>
      run({}, async ({ client }) => {
        await client.post('/set?k=user&v=%22alice%22')
        const real = client.cookie as string
        for (const garbage of ['sid=x', `sid=${(client.token as string).slice(0, -2)}AA`, 'sid=%E0%A4%A']) {
          const read = await client.get('/get?k=user', { cookie: `${garbage}; ${real}` })
          assert.deepEqual([read.status, read.body.value], [200, 'alice'], garbage)
          assert.deepEqual(read.setCookies, [])
        }
      }))

    it('duplicate cookies behind TLS: a planted plain sid cannot shadow __Host-sid; a plain sid moves to __Host-sid', () =>
      run({ trustProxy: true }, async ({ url }) => {
        const https = { 'x-forwarded-proto': 'https' }
        const attacker = new Client(url)
        await attacker.post('/set?k=user&v=%22mallory%22')
        const victim = new Client(url, '__Host-sid')
        await victim.post('/set?k=user&v=%22alice%22', { headers: https })
        assert.match(victim.cookie ?? '', /^__Host-sid=/)
        for (const cookie of [`${attacker.cookie}; ${victim.cookie}`, `${victim.cookie}; ${attacker.cookie}`]) {
          assert.equal((await victim.get('/get?k=user', { cookie, headers: https })).body.value, 'alice')
        }
        const moved = await attacker.get('/get?k=user', { headers: https })
        assert.equal(moved.body.value, 'mallory')
        assert.deepEqual(
          moved.setCookies.map((c) => [c.split('=')[0], isClearing(c)]),
          [['__Host-sid', false], ['sid', true]],
        )
      }))

    it('CSRF: unsafe requests the browser marks same-site or cross-site are refused (403 CSRF) and change nothing', () =>
      run({}, async ({ client }) => {
        await client.post('/set?k=a&v=1')
        for (const site of ['cross-site', 'same-site', 'SAME-SITE', 'bogus']) {
          const refused = await client.post('/set?k=a&v=2', { headers: { 'sec-fetch-site': site } })
          assert.deepEqual([refused.status, refused.body.code, refused.setCookies], [403, 'CSRF', []], site)
          assert.equal(refused.headers.get('content-type'), 'application/json; charset=utf-8')
        }
        assert.equal((await client.get('/get?k=a')).body.value, 1, 'nothing was written')
        // A refused logout leaves the session alive.
        assert.equal((await client.post('/logout', { headers: { 'sec-fetch-site': 'cross-site' } })).status, 403)
        assert.equal((await client.get('/get?k=a', { headers: { 'sec-fetch-site': 'cross-site' } })).body.value, 1, 'safe methods pass')
        for (const site of ['same-origin', 'none']) {
          assert.equal((await client.post('/incr', { headers: { 'sec-fetch-site': site } })).status, 200, site)
        }
        assert.equal((await client.get('/get?k=n')).body.value, 2)
      }))

    it('CSRF without Sec-Fetch-Site: Origin must be the request\'s own host or an allowed origin; no Origin passes', () =>
      run({ csrf: { allowedOrigins: ['https://front.example'] } }, async ({ client, url }) => {
        const own = new URL(url).origin
        assert.equal((await client.post('/set?k=a&v=1', { headers: { origin: own } })).status, 200)
        assert.equal((await client.post('/set?k=a&v=2', { headers: { origin: 'https://front.example' } })).status, 200)
        assert.equal((await client.post('/set?k=a&v=3')).status, 200, 'no Origin, no Sec-Fetch-Site: not a browser')
        const otherPort = `http://127.0.0.1:${Number(new URL(url).port) + 1}`
        for (const origin of ['http://evil.example', otherPort, 'null', 'not a url']) {
          const refused = await client.post('/set?k=a&v=4', { headers: { origin } })
          assert.deepEqual([refused.status, refused.body.code], [403, 'CSRF'], origin)
        }
        // An allowed origin passes even where the browser says cross-site.
        const front = await client.post('/set?k=b&v=1', { headers: { origin: 'https://front.example', 'sec-fetch-site': 'cross-site' } })
        assert.equal(front.status, 200)
        assert.equal((await client.get('/get?k=a')).body.value, 3)
      }))

    it('CSRF behind a trusted proxy: Origin is compared with X-Forwarded-Host', async () => {
      const headers = { origin: 'https://shop.example', 'x-forwarded-host': 'shop.example', 'x-forwarded-proto': 'https' }
      await run({ trustProxy: true }, async ({ url }) => {
        assert.equal((await new Client(url, '__Host-sid').post('/set?k=a&v=1', { headers })).status, 200)
      })
      await run({}, async ({ client }) => {
        assert.equal((await client.post('/set?k=a&v=1', { headers })).status, 403, 'X-Forwarded-Host is not believed without trustProxy')
      })
    })

    it('CSRF: header-token requests are not checked; csrf: false turns the check off', async () => {
      await run({ header: true, cookie: false }, async ({ client }) => {
        const first = await client.post('/set?k=a&v=1')
        const token = first.headers.get('x-session-token') as string
        const cross = await client.post('/set?k=a&v=2', { headers: { authorization: `Bearer ${token}`, 'sec-fetch-site': 'cross-site' } })
        assert.equal(cross.status, 200)
        assert.equal((await client.get('/get?k=a', { headers: { authorization: `Bearer ${token}` } })).body.value, 2)
      })
      await run({ csrf: false }, async ({ client }) => {
        assert.equal((await client.post('/set?k=a&v=1', { headers: { 'sec-fetch-site': 'cross-site', origin: 'http://evil.example' } })).status, 200)
      })
    })

    it('round-trips values; untouched and read-only requests set no cookie', () =>
      run({}, async ({ client }) => {
        await client.post('/set?k=a&v=1')
        const id = (await client.get('/get?k=a')).body.id
        await client.post(`/set?k=cart&v=${encodeURIComponent('{"items":[{"sku":"b-1","qty":2}],"note":"é ✓"}')}`)
        await client.post('/set?k=nothing&v=null')
        const a = await client.get('/get?k=a')
        assert.deepEqual(a.body, { value: 1, has: true, id, principal: null })
        assert.deepEqual(a.setCookies, [])
        assert.deepEqual((await client.get('/get?k=cart')).body.value, { items: [{ sku: 'b-1', qty: 2 }], note: 'é ✓' })
        assert.deepEqual((await client.get('/get?k=nothing')).body, { value: null, has: true, id, principal: null })
        assert.deepEqual((await client.get('/none')).setCookies, [])
        assert.equal((await client.get('/get?k=missing')).body.has, false)
      }))

    it('counts with property-style writes and persists in-place array mutation', () =>
      run({}, async ({ client }) => {
        for (let i = 1; i <= 3; i++) assert.equal((await client.post('/incr')).body.n, i)
        for (const x of [1, 'two', { three: 3 }]) await client.post(`/push?x=${encodeURIComponent(JSON.stringify(x))}`)
        assert.deepEqual((await client.get('/get?k=list')).body.value, [1, 'two', { three: 3 }])
        assert.equal((await client.get('/get?k=n')).body.value, 3)
      }))

    it('keeps every one of 50 concurrent writes to different attributes of one session', () =>
      run({}, async ({ client, sessions }) => {
        await client.post('/set?k=base&v=0')
        const id = (await client.get('/get?k=base')).body.id as string
        const writes = await Promise.all(Array.from({ length: 50 }, (_, i) => client.post(`/set?k=k${i}&v=${i}`)))
        assert.deepEqual(
          writes.map((w) => w.status),
          writes.map(() => 200),
        )
        const reads = await Promise.all(Array.from({ length: 50 }, (_, i) => client.get(`/get?k=k${i}`)))
        assert.deepEqual(
          reads.map((r) => r.body.value),
          reads.map((_, i) => i),
        )
        assert.equal((await sessions.get(id))?.keys().length, 51)
      }))

    it('with a near cache: hits are served from it, and writes, login and logout through a cached session all hold', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sessionmesh-adapter-cache-'))
      const path = join(dir, 'sessions.db')
      const options = { store: sqliteStore({ path }), bus: { bus: sqliteBus({ path, pollMs: 5 }), instanceId: 'A' }, nearCache: true }
      try {
        await run(options, async ({ client, sessions, errors }) => {
          await until('the near cache is on', async () => sessions.nearCacheStats()?.enabled === true, 10_000)
          const hits = () => sessions.nearCacheStats()?.hits ?? 0
          await client.post('/set?k=a&v=1')
          const id = (await client.get('/get?k=a')).body.id as string
          const before = hits()
          const read = await client.get('/get?k=a')
          assert.deepEqual(read.body, { value: 1, has: true, id, principal: null })
          assert.deepEqual(read.setCookies, [])
          assert.equal(hits(), before + 1, 'the read was a cache hit')
          for (let i = 1; i <= 3; i++) assert.equal((await client.post('/incr')).body.n, i)
          assert.ok(hits() >= before + 4, 'the writes started from cached copies')
          assert.equal((await sessions.get(id))?.get('n'), 3)
          const login = await client.post('/login?user=alice')
          assert.match(login.sessionCookie ?? '', SESSION_COOKIE)
          const after = await client.get('/get?k=a')
          assert.deepEqual(after.body, { value: 1, has: true, id: login.body.id, principal: 'user:alice' })
          assert.equal(await sessions.get(id), null, 'the old id is dead')
          assert.ok(isClearing((await client.post('/logout')).sessionCookie ?? ''))
          assert.equal((await client.get('/get?k=user')).body.has, false)
          assert.deepEqual(errors, [])
        })
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })

    it('regenerate: a new id, the old cookie loads nothing, attributes kept', () =>
      run({}, async ({ client, sessions }) => {
        await client.post('/set?k=cart&v=%5B%22book%22%5D')
        const before = (await client.get('/get?k=cart')).body.id as string
        const oldCookie = client.cookie
        const login = await client.post('/login?user=alice')
        assert.equal(login.status, 200)
        assert.match(login.sessionCookie ?? '', SESSION_COOKIE)
        assert.notEqual(client.cookie, oldCookie)
        const after = await client.get('/get?k=cart')
        assert.deepEqual(after.body.value, ['book'])
        assert.equal(after.body.principal, 'user:alice')
        assert.notEqual(after.body.id, before)
        assert.equal(login.body.id, after.body.id)
        assert.equal(login.body.sessionID, after.body.id, 'the framework\'s sessionID follows regenerate()')
        assert.equal((await client.get('/get?k=user')).body.value, 'alice')
        const stale = await client.get('/get?k=cart', { cookie: oldCookie ?? null })
        assert.equal(stale.body.has, false)
        assert.ok(![before, after.body.id].includes(stale.body.id))
        assert.deepEqual(stale.setCookies, [])
        assert.deepEqual(
          (await sessions.findByPrincipal('user:alice')).map((s) => s.id),
          [after.body.id],
        )
      }))

    it('regenerate and save with callbacks', () =>
      run({}, async ({ client }) => {
        await client.post('/set?k=theme&v=%22dark%22')
        const oldCookie = client.cookie
        const cb = await client.post('/cb?user=bob')
        assert.equal(cb.status, 200)
        assert.notEqual(client.cookie, oldCookie)
        const after = await client.get('/get?k=user')
        assert.deepEqual([after.body.value, after.body.id], ['bob', cb.body.id])
        assert.equal((await client.get('/get?k=theme')).body.value, 'dark')
        assert.equal((await client.get('/get?k=theme', { cookie: oldCookie ?? null })).body.has, false)
      }))

    it('destroy: the cookie is cleared and the old cookie is dead', () =>
      run({}, async ({ client, sessions }) => {
        await client.post('/login?user=carol')
        const cookie = client.cookie
        const out = await client.post('/logout')
        assert.equal(out.status, 200)
        const cleared = out.sessionCookie ?? ''
        assert.ok(isClearing(cleared), cleared)
        assert.match(cleared, /^sid=;/)
        const attrs = cookieAttributes(cleared)
        assert.equal(attrs['max-age'], '0')
        assert.match(attrs.expires ?? '', /^Thu, 01 Jan 1970 00:00:00 GMT$/)
        assert.equal(attrs.path, '/')
        assert.equal(client.cookie, undefined)
        const stale = await client.get('/get?k=user', { cookie: cookie ?? null })
        assert.equal(stale.body.has, false)
        assert.deepEqual(stale.setCookies, [])
        assert.deepEqual(await sessions.findByPrincipal('user:carol'), [])
      }))

    it('sends a redirect only once the save is done (followed at once, it sees the value)', () =>
      run({ store: slowStore(20) }, async ({ client }) => {
        for (let i = 0; i < 3; i++) {
          const r = await client.get(`/redirect?k=flash&v=${i}`)
          assert.equal(r.status, 302)
          assert.equal(r.headers.get('location'), '/get?k=flash')
          if (i === 0) assert.match(r.sessionCookie ?? '', SESSION_COOKIE)
          const next = await client.get('/get?k=flash')
          assert.equal(next.body.value, i, `redirect #${i}`)
        }
      }))

    it('answers SessionTooLargeError with 413 and keeps serving', () =>
      run({ maxSize: 1024 }, async ({ client }) => {
        await client.post('/set?k=a&v=1')
        await client.post('/set?k=list&v=%5B%5D')
        const big = await client.post('/big?n=2000')
        assert.equal(big.status, 413)
        assert.deepEqual(big.setCookies, [])
        // growth noticed at commit (an in-place push) is answered by the adapter itself
        const grown = await client.post(`/push?x=%22${'y'.repeat(1500)}%22`)
        assert.equal(grown.status, 413)
        assert.equal(grown.body?.code, 'SESSION_TOO_LARGE')
        assert.deepEqual(grown.setCookies, [])
        assert.equal((await client.get('/get?k=a')).body.value, 1)
        assert.deepEqual((await client.get('/get?k=list')).body.value, [])
        assert.equal((await client.get('/get?k=big')).body.has, false)
      }))

    it('treats tampered, truncated, garbage and oversized cookies as a fresh anonymous session', () =>
      run({}, async ({ client, url }) => {
        await client.post('/set?k=secret&v=%22s3%22')
        const token = client.token ?? ''
        const id = (await client.get('/get?k=secret')).body.id as string
        const other = new Client(url)
        await other.post('/set?k=x&v=1')
        const [sid, mac] = token.split('.') as [string, string]
        const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1)
        const bad: Record<string, string> = {
          'tampered signature': `sid=${sid}.${flip(mac, 20)}`,
          'tampered id': `sid=${flip(sid, 5)}.${mac}`,
          "another session's signature": `sid=${sid}.${other.token?.split('.')[1]}`,
          'truncated by one': `sid=${token.slice(0, -1)}`,
          'truncated to the id': `sid=${sid}`,
          'no dot': `sid=${sid}${mac}`,
          garbage: 'sid=%%%;;==\u00ff\u00fe; =; sid',
          'empty value': 'sid=',
          'oversized (4 KB)': `sid=${token}${'A'.repeat(4096)}`,
          'oversized (4 KB) random': `sid=${randomBytes(3072).toString('base64')}`,
        }
        for (const [label, cookie] of Object.entries(bad)) {
          const r = await client.get('/get?k=secret', { cookie })
          assert.equal(r.status, 200, label)
          assert.equal(r.body.has, false, label)
          assert.notEqual(r.body.id, id, label)
          assert.deepEqual(r.setCookies, [], label)
          const w = await new Client(url).post('/set?k=secret&v=%22evil%22', { cookie })
          assert.equal(w.status, 200, label)
          assert.match(w.sessionCookie ?? '', SESSION_COOKIE, label)
          assert.notEqual(w.sessionCookie?.slice(4, 36), sid, label)
        }
        assert.equal((await client.get('/get?k=secret')).body.value, 's3')
      }))

    it('accepts a cookie signed with a rotated-out key and re-signs it with the new one', async () => {
      const store = memoryStore()
      const OLD = randomBytes(32).toString('base64')
      const NEW = randomBytes(32).toString('base64')
      const before = createSessions({ secret: [OLD], store, sweepInterval: false })
      const after = createSessions({ secret: [NEW, OLD], store, sweepInterval: false })
      try {
        const oldApp = await startApp(before)
        const client = new Client(oldApp.url)
        try {
          await client.post('/set?k=cart&v=%5B%22a%22%5D')
        } finally {
          await oldApp.close()
        }
        const oldToken = client.token ?? ''
        const newApp = await startApp(after)
        try {
          const rotated = new Client(newApp.url)
          rotated.cookie = client.cookie
          const r = await rotated.get('/get?k=cart')
          assert.deepEqual(r.body.value, ['a'])
          assert.match(r.sessionCookie ?? '', SESSION_COOKIE)
          const newToken = rotated.token ?? ''
          assert.equal(newToken.split('.')[0], oldToken.split('.')[0]) // same session
          assert.notEqual(newToken, oldToken) // new signature
          assert.equal(after.tokens.read(newToken)?.rotated, false)
          const again = await rotated.get('/get?k=cart')
          assert.deepEqual(again.body.value, ['a'])
          assert.deepEqual(again.setCookies, [])
        } finally {
          await newApp.close()
        }
      } finally {
        await after.close()
        await before.close()
      }
    })

    it('stores __proto__, constructor and prototype as plain attributes without pollution', () =>
      run({}, async ({ client, sessions }) => {
        const names = ['__proto__', 'constructor', 'prototype']
        for (const k of names) {
          const w = await client.post(`/set?k=${k}&v=${encodeURIComponent(JSON.stringify({ polluted: k }))}`)
          assert.equal(w.status, 200, k)
        }
        for (const k of names) {
          const r = await client.get(`/get?k=${k}`)
          assert.deepEqual([r.body.has, r.body.value], [true, { polluted: k }], k)
        }
        const id = (await client.get('/get?k=x')).body.id as string
        assert.deepEqual((await sessions.get(id))?.keys().sort(), [...names].sort())
        assert.equal(({} as Record<string, unknown>).polluted, undefined)
        assert.equal(Object.hasOwn(Object.prototype, 'polluted'), false)
        assert.equal(typeof ({} as { constructor: unknown }).constructor, 'function')
      }))

    it('header tokens: Authorization: Bearer in, x-session-token out, no cookies', () =>
      run({ header: true, cookie: false }, async ({ client }) => {
        const w = await client.post('/set?k=a&v=1')
        assert.equal(w.status, 200)
        assert.deepEqual(w.setCookies, [])
        const token = w.headers.get('x-session-token') ?? ''
        assert.match(token, TOKEN)
        const auth = (t: string) => ({ headers: { authorization: `Bearer ${t}` } })
        const r = await client.get('/get?k=a', auth(token))
        assert.equal(r.body.value, 1)
        assert.equal(r.headers.get('x-session-token'), null)
        const login = await client.post('/login?user=dan', auth(token))
        const next = login.headers.get('x-session-token') ?? ''
        assert.match(next, TOKEN)
        assert.notEqual(next, token)
        assert.equal((await client.get('/get?k=a', auth(token))).body.has, false)
        const fresh = await client.get('/get?k=a', auth(next))
        assert.deepEqual([fresh.body.value, fresh.body.principal], [1, 'user:dan'])
        assert.equal((await client.get('/get?k=a', { cookie: `sid=${next}` })).body.has, false)
        assert.equal((await client.get('/get?k=a', { headers: { authorization: `Basic ${next}` } })).body.has, false)
      }))

    it('store down: 503 with a JSON body naming the problem, no cookie; recovers', () => {
      const store = flakyStore()
      return run({ store }, async ({ client, url }) => {
        await client.post('/set?k=a&v=1')
        store.down = true
        const r = await client.get('/get?k=a')
        assert.equal(r.status, 503)
        assert.match(r.headers.get('content-type') ?? '', /^application\/json/)
        assert.equal(r.headers.get('retry-after'), '1')
        assert.deepEqual(r.body, { error: 'session store unavailable, try again shortly', code: 'STORE_UNAVAILABLE' })
        assert.deepEqual(r.setCookies, [])
        const w = await new Client(url).post('/set?k=a&v=2') // a new session fails at its first save
        assert.equal(w.status, 503)
        assert.equal(w.body?.code, 'STORE_UNAVAILABLE')
        assert.deepEqual(w.setCookies, [])
        store.down = false
        assert.equal((await client.get('/get?k=a')).body.value, 1)
      })
    })

    it("store down with onStoreError 'continue': the handler runs with an unsaved session", () => {
      const store = flakyStore()
      return run({ store, onStoreError: 'continue' }, async ({ client, errors }) => {
        await client.post('/set?k=a&v=1')
        store.down = true
        const r = await client.get('/get?k=a')
        assert.equal(r.status, 200)
        assert.equal(r.body.has, false)
        const w = await client.post('/set?k=a&v=2')
        assert.equal(w.status, 200)
        assert.deepEqual(w.setCookies, [])
        assert.ok(errors.length >= 2 && errors.every((e) => e instanceof StoreUnavailableError))
        store.down = false
        assert.equal((await client.get('/get?k=a')).body.value, 1)
      })
    })

    it(`survives ${FUZZ_RUNS} hostile Cookie / Authorization / Origin / Sec-Fetch-Site headers and duplicate session cookies: no 5xx, no errors, no crash`, async (t) => {
      const seed = Number(process.env.FUZZ_SEED ?? randomInt(2 ** 31))
      t.diagnostic(`fuzz seed ${seed} (rerun: FUZZ_SEED=${seed})`)
      const uncaught: unknown[] = []
      const onUncaught = (e: unknown) => uncaught.push(e)
      process.on('uncaughtException', onUncaught)
      process.on('unhandledRejection', onUncaught)
      try {
        await run({ header: true }, async ({ client, url, errors }) => {
          await client.post('/set?k=a&v=1')
          const valid = client.cookie ?? ''
          const rng = new Rng(seed)
          const cases = Array.from({ length: FUZZ_RUNS }, (_, i): FuzzCase => {
            // every seventh case: several session cookies, the valid one among garbage (the first that verifies wins)
            if (i % 7 === 6) {
              const { header, holdsValid } = duplicateCookies(rng, valid)
              return { headers: { cookie: header }, method: 'GET', path: '/get?k=a', ...(holdsValid ? { bodyIncludes: '"value":1' } : {}) }
            }
            const header = hostileCookie(rng, valid)
            // every fifth case puts the mutation in a bearer token instead
            const headers: Record<string, string> =
              i % 5 === 4 ? { authorization: `Bearer ${header.slice(header.indexOf('=') + 1)}` } : { cookie: header }
            if (i % 3 !== 0) return { headers, method: 'GET', path: '/get?k=a' }
            // unsafe requests carry hostile fetch metadata: answered, or refused as CSRF (403), never a 5xx
            return { headers: { ...headers, ...hostileFetchMetadata(rng, url) }, method: 'POST', path: '/incr', csrfRefusalAllowed: true }
          })
          const failures = await sendFromWorker(url, cases, 32, SESSION_COOKIE)
          const why = `seed ${seed} (rerun: FUZZ_SEED=${seed}): ${failures.length} bad answers, first: ${failures.slice(0, 5).join('\n')}`
          assert.equal(failures.length, 0, why)
          assert.deepEqual(errors, [], `seed ${seed}: errors reported on sessions.events`)
          assert.equal((await client.get('/get?k=a')).body.value, 1)
        })
        assert.deepEqual(uncaught, [], `seed ${seed}: uncaught exceptions`)
      } finally {
        process.off('uncaughtException', onUncaught)
        process.off('unhandledRejection', onUncaught)
      }
    })
  })
}
