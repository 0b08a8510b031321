/**
 * `npm start` end to end: the demo shop as its users run it (gateway + auth, cart and orders,
 * two OS processes each), over HTTP only. Runs on the embedded SQLite default and on a
 * private Redis (SESSIONMESH_STORE=redis://…).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startRedis, type RedisProcess, until } from '../../harness/redis.js'
import { allGone, alive, call, login, type Shop, startShop } from './harness.js'

const SERVICES = ['auth', 'cart', 'orders'] as const
/** An endpoint of each service that answers a logged-in GET. */
const PROBE = { auth: '/api/auth/me', cart: '/api/cart', orders: '/api/orders' } as const

/** Replaces one character of the cookie's signature. */
function tamper(cookie: string): string {
  const at = cookie.length - 5
  return `${cookie.slice(0, at)}${cookie[at] === 'A' ? 'B' : 'A'}${cookie.slice(at + 1)}`
}

/** Reads the dashboard's merged feed until an event matches; the feed replays recent events first. */
async function waitForEvent(base: string, match: (e: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  const controller = new AbortController()
  const res = await fetch(new URL('/dashboard/events', base), { signal: controller.signal })
  const decoder = new TextDecoder()
  let buffered = ''
  try {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true })
      let end: number
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const frame = buffered.slice(0, end)
        buffered = buffered.slice(end + 2)
        if (!frame.startsWith('data: ')) continue
        const event = JSON.parse(frame.slice(6)) as Record<string, unknown>
        if (match(event)) return event
      }
    }
  } finally {
    controller.abort()
  }
  throw new Error('the event feed ended before the event came')
}

const VARIANTS = [
  { name: 'the embedded SQLite default', redisNodes: 0 },
  { name: 'Redis (SESSIONMESH_STORE=redis://…)', redisNodes: 1 },
  { name: 'two Redis servers, sharded by session (SESSIONMESH_STORE=redis://a,redis://b)', redisNodes: 2 },
] as const

for (const variant of VARIANTS) {
  describe(`npm start: the demo shop on ${variant.name}`, () => {
    let shop: Shop
    const redis: RedisProcess[] = []
    let alice = ''
    before(async () => {
      for (let i = 0; i < variant.redisNodes; i++) redis.push(await startRedis())
      shop = await startShop(redis.length ? { SESSIONMESH_STORE: redis.map((r) => r.url).join(',') } : {})
    }, { timeout: 120_000 })
    after(async () => {
      await shop?.stop()
      for (const r of redis) await r.stop()
    })

    it('prints the URL, the demo accounts and a separate OS process for the gateway and two instances of each service', () => {
      assert.match(shop.url, /^http:\/\/localhost:\d+\/$/)
      assert.ok(shop.output.some((l) => l.includes('alice / alice-pass') && l.includes('bob / bob-pass')))
      const names = [...shop.pids.keys()].sort()
      assert.deepEqual(names, ['auth-1', 'auth-2', 'cart-1', 'cart-2', 'gateway', 'orders-1', 'orders-2'])
      const pids = new Set(shop.pids.values())
      assert.equal(pids.size, 7)
      for (const pid of pids) assert.ok(alive(pid), `process ${pid} is running`)
    })

    it('a login through one instance is seen by at least two instances of every service (round-robin, no stickiness)', async () => {
      const bad = await call(shop.url, '/api/auth/login', { body: { username: 'alice', password: 'wrong' } })
      assert.equal(bad.status, 401)
      assert.equal(bad.cookie, undefined)
      alice = await login(shop.url, 'alice', 'alice-pass', 'test-laptop')
      for (const service of SERVICES) {
        const servedBy = new Set<string>()
        for (let i = 0; i < 4; i++) {
          const r = await call(shop.url, PROBE[service], { cookie: alice })
          assert.equal(r.status, 200, `${service}: ${JSON.stringify(r.body)}`)
          if (service === 'auth') assert.equal(r.body.user, 'alice')
          servedBy.add(r.servedBy ?? '')
        }
        assert.deepEqual([...servedBy].sort(), [`${service}-1`, `${service}-2`])
      }
    })

    it('200 concurrent add-to-cart requests on one session count exactly 200 (atomic increments, both cart instances)', async () => {
      const replies = await Promise.all(
        Array.from({ length: 200 }, (_, i) => call(shop.url, '/api/cart/items', { cookie: alice, body: { sku: i % 2 ? 'mug' : 'sticker', qty: 1 } })),
      )
      assert.deepEqual(new Set(replies.map((r) => r.status)), new Set([200]))
      assert.deepEqual(new Set(replies.map((r) => r.servedBy)), new Set(['cart-1', 'cart-2']))
      const cart = await call(shop.url, '/api/cart', { cookie: alice })
      assert.equal(cart.body.count, 200)
      const items = cart.body.items as Array<{ sku: string; qty: number }>
      assert.deepEqual(Object.fromEntries(items.map((i) => [i.sku, i.qty])), { mug: 100, sticker: 100 })
    })

    it('checkout (under the session lock) makes one order of the whole cart and empties it, even when five race', async () => {
      const replies = await Promise.all(Array.from({ length: 5 }, () => call(shop.url, '/api/orders', { cookie: alice, body: {} })))
      const placed = replies.filter((r) => r.status === 201)
      assert.equal(placed.length, 1, JSON.stringify(replies.map((r) => [r.status, r.body])))
      // The others saw the cart already emptied (400), or gave up waiting for the lock; none failed.
      for (const r of replies) assert.ok([201, 400, 409, 503].includes(r.status), `${r.status} ${JSON.stringify(r.body)}`)
      assert.equal((placed[0]?.body.order as { count: number }).count, 200)
      const orders = await call(shop.url, '/api/orders', { cookie: alice })
      assert.deepEqual(
        (orders.body.orders as Array<{ count: number }>).map((o) => o.count),
        [200],
      )
      assert.equal((await call(shop.url, '/api/cart', { cookie: alice })).body.count, 0)
      assert.equal((await call(shop.url, '/api/orders', { cookie: alice, body: {} })).status, 400, 'an empty cart cannot be checked out')
    })

    it('lists the user’s devices; log-out-everywhere ends every one of them, on every instance', async () => {
      const phone = await login(shop.url, 'alice', 'alice-pass', 'test-phone')
      const bob = await login(shop.url, 'bob')
      const list = await call(shop.url, '/api/auth/sessions', { cookie: alice })
      const devices = list.body.sessions as Array<{ userAgent: string; current: boolean; createdAt: number; lastSeenAt: number }>
      assert.deepEqual(devices.map((d) => [d.userAgent, d.current]).sort(), [
        ['test-laptop', true],
        ['test-phone', false],
      ])
      for (const d of devices) assert.ok(d.createdAt > 0 && d.lastSeenAt >= d.createdAt)
      const revoked = await call(shop.url, '/api/auth/logout-all', { cookie: phone, body: {} })
      assert.deepEqual([revoked.status, revoked.body.revoked], [200, 2])
      // On Redis, other instances hear of the revocation over the change bus: their near caches
      // drop the session within the bus's delivery time (docs/BUS.md), so poll for it briefly.
      // Round-robin: two 401s in a row are both instances of the service.
      const refused = async (service: (typeof SERVICES)[number], cookie: string) => {
        for (let i = 0; i < 2; i++) if ((await call(shop.url, PROBE[service], { cookie })).status !== 401) return false
        return true
      }
      for (const service of SERVICES) {
        for (const cookie of [alice, phone]) await until(`${service} refuses after logout-all`, () => refused(service, cookie), 5_000)
      }
      assert.equal((await call(shop.url, '/api/auth/me', { cookie: bob })).body.user, 'bob', "another user's session is untouched")
      assert.equal((await call(shop.url, '/api/auth/logout', { cookie: bob, body: {} })).status, 200)
      await until('auth refuses after logout', () => refused('auth', bob), 5_000)
    })

    it('answers tampered cookies and anonymous calls with 401 and malformed bodies with 400: never a 5xx', async () => {
      const carol = await login(shop.url, 'alice', 'alice-pass')
      const cases: Array<[string, { method?: string; cookie?: string; body?: unknown }, number]> = [
        ['/api/auth/me', { cookie: tamper(carol) }, 401],
        ['/api/cart', { cookie: tamper(carol) }, 401],
        ['/api/cart/items', { cookie: tamper(carol), body: { sku: 'mug', qty: 1 } }, 401],
        ['/api/auth/me', { cookie: 'sid=%%%garbage' }, 401],
        ['/api/auth/me', {}, 401],
        ['/api/auth/sessions', {}, 401],
        ['/api/auth/logout-all', { body: {} }, 401],
        ['/api/cart', {}, 401],
        ['/api/cart/items', { body: { sku: 'mug', qty: 1 } }, 401],
        ['/api/orders', {}, 401],
        ['/api/orders', { body: {} }, 401],
        ['/api/auth/login', { body: 'garbage' }, 400],
        ['/api/auth/login', { body: '[]' }, 400],
        ['/api/auth/login', { body: { username: 1, password: ['x'] } }, 400],
        ['/api/cart/items', { cookie: carol, body: '{"sku":' }, 400],
        ['/api/cart/items', { cookie: carol, body: '"mug"' }, 400],
        ['/api/cart/items', { cookie: carol, body: {} }, 400],
        ['/api/cart/items', { cookie: carol, body: { sku: 'unicorn', qty: 1 } }, 400],
        ['/api/cart/items', { cookie: carol, body: { sku: '__proto__', qty: 1 } }, 400],
        ['/api/cart/items', { cookie: carol, body: { sku: 'mug', qty: 0 } }, 400],
        ['/api/cart/items', { cookie: carol, body: { sku: 'mug', qty: 100 } }, 400],
        ['/api/cart/items', { cookie: carol, body: { sku: 'mug', qty: 1.5 } }, 400],
        ['/api/cart/items', { cookie: carol, body: { sku: 'mug', qty: '1' } }, 400],
        ['/api/cart/items', { cookie: carol, body: { sku: 'mug', qty: -1 } }, 400],
        ['/api/cart/items', { cookie: carol, body: { sku: 'mug', qty: 1, pad: 'x'.repeat(20_000) } }, 413],
        ['/api/cart/nothing-here', { cookie: carol }, 404],
        ['/api/nosuchservice/x', { cookie: carol }, 404],
      ]
      for (const [path, init, status] of cases) {
        const r = await call(shop.url, path, init)
        assert.equal(r.status, status, `${init.body === undefined ? 'GET' : 'POST'} ${path} ${JSON.stringify(init)} → ${r.status} ${JSON.stringify(r.body)}`)
        if (path.startsWith('/api/nosuchservice')) assert.equal(r.servedBy, 'gateway')
        else assert.match(r.servedBy ?? '', /^(auth|cart|orders)-[12]$/)
      }
      assert.equal((await call(shop.url, '/api/cart', { cookie: carol })).body.count, 0, 'no refused request changed the cart')
    })

    it('each instance serves Prometheus metrics through the gateway (/metrics/<instance>)', async () => {
      const res = await fetch(new URL('/metrics/cart-1', shop.url))
      assert.equal(res.status, 200)
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/)
      const text = await res.text()
      for (const metric of ['sessionmesh_store_operation_duration_seconds_count', 'sessionmesh_sessions_active', 'sessionmesh_lock_wait_seconds']) {
        assert.ok(text.includes(metric), `${metric} is exposed`)
      }
      assert.match(text, /sessionmesh_store_operation_duration_seconds_count\{[^}]*operation="load"[^}]*\} [1-9]/, 'cart-1 has timed its store loads')
      if (variant.redisNodes > 0) assert.match(text, /sessionmesh_cache_hits_total\{[^}]*\} \d+/)
      assert.equal((await fetch(new URL('/metrics/nope-9', shop.url))).status, 404)
    })

    it('the dashboard reports live sessions per instance and merges every instance’s event feed', async () => {
      const dave = await login(shop.url, 'bob')
      for (let i = 0; i < 2; i++) await call(shop.url, '/api/cart', { cookie: dave })
      const stats = await call(shop.url, '/dashboard/stats')
      assert.equal(stats.status, 200)
      assert.equal(stats.body.routing, 'round-robin')
      assert.ok((stats.body.live as number) >= 1)
      const instances = stats.body.instances as Array<{ id: string; up: boolean; sessions: number }>
      assert.equal(instances.length, 6)
      assert.ok(instances.every((i) => i.up))
      assert.ok(instances.filter((i) => i.id.startsWith('cart-')).every((i) => i.sessions >= 1), 'round-robin: both cart instances served the session')
      // Redis runs with the change bus and near cache; the SQLite default has none.
      const hitRate = stats.body.nearCacheHitRate
      if (variant.redisNodes === 0) assert.equal(hitRate, null)
      else assert.ok(typeof hitRate === 'number' && hitRate > 0 && hitRate <= 1, `near-cache hit rate ${String(hitRate)}`)
      const nodes = stats.body.storeNodes as Array<{ node: string; sessions: number }>
      assert.equal(nodes.length, Math.max(1, variant.redisNodes))
      assert.equal(
        nodes.reduce((n, s) => n + s.sessions, 0),
        stats.body.live,
      )
      const rings = stats.body.rings as Record<string, Array<{ keyspace: number }>>
      for (const service of SERVICES) assert.ok(Math.abs((rings[service]?.reduce((n, o) => n + o.keyspace, 0) ?? 0) - 1) < 1e-9)
      const created = await waitForEvent(shop.url, (e) => e.type === 'created' && e.principal === 'user:bob')
      assert.match(String(created.instance), /^auth-[12]$/)
      assert.match(String(created.ref), /^[0-9a-f]{8}$/, 'the feed names sessions by a ref, never by id')
      const updated = await waitForEvent(shop.url, (e) => e.type === 'updated' && String(e.instance).startsWith('cart-'))
      assert.ok(Array.isArray(updated.keys))
    })

    it('SIGINT stops the gateway and every instance (sent to the supervisor, or to the whole group as Ctrl-C does)', async () => {
      const pids = [...shop.pids.values()]
      // Alternate between the two ways a user stops it, one per store variant.
      assert.equal(await shop.stop('SIGINT', { group: variant.redisNodes !== 1 }), 0)
      await allGone(pids)
    })
  })
}
