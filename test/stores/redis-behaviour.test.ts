/**
 * The Redis store's promises beyond the conformance suite, each against real redis-servers
 * started here: round trips per request, the Cluster key layout, expiry events with several
 * instances, script reloading, an outage and recovery, the per-user index, durability.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import { createClient } from 'redis'
import { createSessions, NotReplicatedError, type Sessions, StoreUnavailableError, TooManySessionsError } from '../../src/index.js'
import { redisStore } from '../../src/stores/redis/index.js'
import { startExpress } from '../adapters/express-app.js'
import { type AppHandle, Client } from '../../harness/http.js'
import { cli, startCluster, startRedis, until, type RedisClusterProcesses, type RedisProcess } from '../../harness/redis.js'
import { newId, sessionRecord } from '../../src/testing/index.js'

const SECRET = 'redis-behaviour-test-secret-0123456789abcdef'
const app = startExpress(() => express())

let server: RedisProcess
let cluster: RedisClusterProcesses
before(async () => {
  ;[server, cluster] = await Promise.all([startRedis(), startCluster(3)])
})
after(async () => {
  await Promise.all([server?.stop(), cluster?.stop()])
})

/**
 * Counts the commands clients send to `port` (MONITOR, leaving out the commands scripts run
 * inside Redis); `between` runs `fn` and returns what it sent, fenced by ECHO markers.
 */
async function commandCounter(port: number) {
  const lines: string[] = []
  const monitor = createClient({ url: `redis://127.0.0.1:${port}` })
  const marker = createClient({ url: `redis://127.0.0.1:${port}` })
  await Promise.all([monitor.connect(), marker.connect()])
  await monitor.monitor((line) => lines.push(line))
  let n = 0
  const mark = async () => {
    const m = `mark-${n++}`
    await marker.sendCommand(['ECHO', m])
    await until(`monitor saw ${m}`, async () => lines.some((l) => l.includes(`"${m}"`)))
    return m
  }
  return {
    async between(fn: () => Promise<unknown>): Promise<string[]> {
      const start = await mark()
      await fn()
      const end = await mark()
      const from = lines.findIndex((l) => l.includes(`"${start}"`))
      const to = lines.findIndex((l) => l.includes(`"${end}"`))
      return lines.slice(from + 1, to).filter((l) => !/\[\d+ lua\]/.test(l))
    },
    async close() {
      monitor.destroy()
      await marker.close()
    },
  }
}

describe('round trips per request (MONITOR on a private redis-server)', () => {
  let sessions: Sessions
  let handle: AppHandle
  let counter: Awaited<ReturnType<typeof commandCounter>>
  let clock = Date.now()
  before(async () => {
    sessions = createSessions({
      store: redisStore({ url: server.url, prefix: 'rt:' }),
      secret: SECRET,
      sweepInterval: false,
      touchInterval: '60s',
      now: () => clock,
    })
    handle = await app(sessions)
    counter = await commandCounter(server.port)
  })
  after(async () => {
    await counter.close()
    await handle.close()
    await sessions.close()
  })

  it('a login costs one command, a read-only request one, a writing request two, a read with a touch due one', async () => {
    const c = new Client(handle.url)
    // Warm-up: the first call of each script on a node costs a NOSCRIPT fallback once.
    const warm = new Client(handle.url)
    await warm.post('/login?user=warm')
    await warm.post('/set?k=x&v=1')
    await warm.get('/get?k=x')

    const login = await counter.between(() => c.post('/login?user=alice'))
    assert.equal(login.length, 1, `login sent: ${login.join('\n')}`)
    assert.match(login[0]!, /"EVALSHA"/)

    const read = await counter.between(() => c.get('/get?k=user'))
    assert.equal(read.length, 1, `read-only request sent: ${read.join('\n')}`)

    const write = await counter.between(() => c.post('/set?k=cart&v=%5B1%5D'))
    assert.equal(write.length, 2, `writing request sent: ${write.join('\n')}`)

    clock += 120_000 // past touchInterval: the touch rides along with the load
    const touched = await counter.between(() => c.get('/get?k=user'))
    assert.equal(touched.length, 1, `read with a touch due sent: ${touched.join('\n')}`)
    const id = sessions.tokens.read(c.token!)!.id
    assert.equal((await sessions.store.load(id, clock))?.lastAccessedAt, clock)
  })
})

describe('key layout on a 3-master Redis Cluster', () => {
  it('puts every key of a session in one slot, spreads sessions over all masters, and changes ids across slots', async () => {
    const store = redisStore({ cluster: { rootNodes: cluster.rootNodes }, prefix: 'layout:' })
    const sessions = createSessions({ store, secret: SECRET, sweepInterval: false })
    const handle = await app(sessions)
    try {
      for (let i = 0; i < 30; i++) {
        const c = new Client(handle.url)
        await c.post(`/set?k=a&v=${i}`)
        await c.post(`/login?user=u${i}`) // regenerate: a new id, usually in another slot
        assert.equal((await c.get('/get?k=a')).body.value, i)
      }
      const perMaster: number[] = []
      const byId = new Map<string, string[]>()
      for (const node of cluster.nodes) {
        const keys = (await cli(node.port, '--scan', '--pattern', 'layout:*')).split('\n').filter(Boolean)
        perMaster.push(keys.filter((k) => k.includes('}:s:')).length)
        for (const k of keys) {
          const m = /^layout:\{([0-9a-f]{2})\}:s:(.+)$/.exec(k)
          if (m) byId.set(m[2]!, [k, `layout:{${m[1]}}:expiries`])
        }
      }
      assert.equal(byId.size, 30, 'one hash per live session (the pre-login ids are gone)')
      assert.ok(perMaster.every((n) => n > 0), `sessions on every master: ${perMaster.join(',')}`)
      for (const [, keys] of byId) {
        const slots = await Promise.all(keys.map((k) => cli(cluster.nodes[0]!.port, 'CLUSTER', 'KEYSLOT', k)))
        assert.equal(new Set(slots).size, 1, `${keys.join(' ')} share a slot`)
      }
      assert.equal((await sessions.findByPrincipal('user:u7')).length, 1)
    } finally {
      await handle.close()
      await sessions.close()
    }
  })
})

for (const topology of ['standalone', 'cluster'] as const) {
  describe(`expiry events with several instances (${topology})`, () => {
    it('every expired session is reported exactly once, with its principal, while instances come and go', async () => {
      const prefix = `exp-${topology}:`
      const make = () =>
        redisStore({
          ...(topology === 'cluster' ? { cluster: { rootNodes: cluster.rootNodes } } : { url: server.url }),
          prefix,
          sweepLeaseMs: 300,
        })
      const instances = Array.from({ length: 3 }, () => createSessions({ store: make(), secret: SECRET, sweepInterval: 40 }))
      const seen = new Map<string, { count: number; principal: string | null; by: Set<number> }>()
      instances.forEach((s, i) =>
        s.events.on('expired', (e) => {
          const entry = seen.get(e.id) ?? { count: 0, principal: e.principal, by: new Set<number>() }
          entry.count++
          entry.by.add(i)
          seen.set(e.id, entry)
        }),
      )
      const writer = redisStore({ ...(topology === 'cluster' ? { cluster: { rootNodes: cluster.rootNodes } } : { url: server.url }), prefix })
      // Everything is closed whatever happens: an open connection would keep the test file from exiting.
      let holder = -1
      const made = new Map<string, string>()
      const createBatch = async (from: number, count: number) => {
        const now = Date.now()
        const ids: string[] = []
        for (let i = from; i < from + count; i++) {
          const s = sessionRecord({ principal: `user:${i % 7}`, expiresAt: now + 200 + (i % 50) * 10 })
          made.set(s.id, s.principal!)
          ids.push(s.id)
          await writer.create(s)
        }
        return ids
      }
      try {
        await createBatch(0, 150)
        // Stop whichever instance holds the lease part-way. One of its sweeps may take the whole
        // first batch (on a loaded machine they can all have expired before the first sweep, or
        // while the sweep that close() lets finish runs), so the second batch is created only
        // once it has stopped: someone else must sweep those.
        await until('a first expiry', async () => seen.size > 0, 10_000)
        holder = [...seen.values()][0]!.by.values().next().value!
        await instances[holder]!.close()
        const afterStop = await createBatch(150, 150)
        // Generous: on a loaded 2-core machine one sweep of 256 buckets on a Cluster can take seconds.
        await until('every expiry reported', async () => seen.size >= made.size, 60_000)
        for (const [id, principal] of made) {
          const entry = seen.get(id)
          assert.equal(entry?.count, 1, `session reported ${entry?.count ?? 0} times`)
          assert.equal(entry?.principal, principal)
        }
        assert.equal(seen.size, made.size)
        for (const id of afterStop) assert.ok(!seen.get(id)!.by.has(holder), 'a stopped instance reported nothing more')
      } finally {
        for (const [i, s] of instances.entries()) if (i !== holder) await s.close()
        await writer.close()
      }
    })
  })
}

describe('the per-user index through the manager', () => {
  it('findByPrincipal, revokePrincipal and a bounded index', async () => {
    const store = redisStore({ url: server.url, prefix: 'idx:' })
    const sessions = createSessions({ store, secret: SECRET, sweepInterval: false })
    const handle = await app(sessions)
    try {
      const devices = Array.from({ length: 4 }, () => new Client(handle.url))
      for (const d of devices) await d.post('/login?user=carol')
      assert.equal((await sessions.findByPrincipal('user:carol')).length, 4)
      assert.equal(await sessions.revokePrincipal('user:carol'), 4)
      for (const d of devices) assert.equal((await d.get('/get?k=user')).body.has, false)
      assert.deepEqual(await store.findByPrincipal('user:carol', Date.now()), [])

      // Entries past their absolute deadline are pruned by the next write to the index.
      const now = Date.now()
      for (let i = 0; i < 20; i++) await store.create(sessionRecord({ principal: 'user:dave', createdAt: now - 10_000, absoluteTimeoutMs: 9_000, expiresAt: now - 1_000 }))
      await store.create(sessionRecord({ principal: 'user:dave' }))
      assert.equal(await cli(server.port, 'ZCARD', 'idx:u:{user:dave}'), '1')
    } finally {
      await handle.close()
      await sessions.close()
    }
  })

  it('maxSessionsPerPrincipal evicts the oldest, or refuses the new one', async () => {
    const evicting = createSessions({ store: redisStore({ url: server.url, prefix: 'max1:' }), secret: SECRET, sweepInterval: false, maxSessionsPerPrincipal: 2 })
    const evicted: string[] = []
    evicting.events.on('destroyed', (e) => e.reason === 'evicted' && evicted.push(e.id))
    const h1 = await app(evicting)
    const refusing = createSessions({
      store: redisStore({ url: server.url, prefix: 'max2:' }),
      secret: SECRET,
      sweepInterval: false,
      maxSessionsPerPrincipal: { max: 2, policy: 'refuse' },
    })
    const h2 = await app(refusing)
    try {
      const [a, b, c] = [new Client(h1.url), new Client(h1.url), new Client(h1.url)]
      await a.post('/login?user=erin')
      await b.post('/login?user=erin')
      await c.post('/login?user=erin')
      assert.equal((await a.get('/get?k=user')).body.has, false, 'the oldest was evicted')
      assert.equal((await b.get('/get?k=user')).body.value, 'erin')
      assert.equal((await c.get('/get?k=user')).body.value, 'erin')
      assert.equal(evicted.length, 1)

      const [x, y, z] = [new Client(h2.url), new Client(h2.url), new Client(h2.url)]
      await x.post('/login?user=finn')
      await y.post('/login?user=finn')
      const third = await z.post('/login?user=finn')
      assert.equal(third.status, 409)
      assert.equal(third.body.code, new TooManySessionsError(2).code)
      assert.equal((await z.get('/get?k=user')).body.has, false)
      assert.equal((await x.get('/get?k=user')).body.value, 'finn')
      assert.equal((await refusing.findByPrincipal('user:finn')).length, 2)
    } finally {
      await Promise.all([h1.close(), h2.close()])
      await Promise.all([evicting.close(), refusing.close()])
    }
  })
})

/** The one failure a store reported through `onError`: StoreUnavailableError over Redis's WRONGTYPE reply. */
function assertOneWrongTypeReport(errors: Error[], message: RegExp): void {
  assert.equal(errors.length, 1, 'the failure is reported, once')
  const [e] = errors
  assert.ok(e instanceof StoreUnavailableError)
  assert.match(e.message, message)
  assert.match(String((e.cause as Error).message), /WRONGTYPE/)
}

describe('failures', () => {
  it('reloads its scripts after SCRIPT FLUSH (NOSCRIPT) without failing a request', async () => {
    const sessions = createSessions({ store: redisStore({ url: server.url, prefix: 'flush:' }), secret: SECRET, sweepInterval: false })
    const handle = await app(sessions)
    try {
      const c = new Client(handle.url)
      await c.post('/set?k=a&v=1')
      await cli(server.port, 'SCRIPT', 'FLUSH')
      assert.equal((await c.get('/get?k=a')).body.value, 1)
      await c.post('/set?k=a&v=2')
      assert.equal((await c.get('/get?k=a')).body.value, 2)
    } finally {
      await handle.close()
      await sessions.close()
    }
  })

  it('a sweep whose per-user index clean-up fails still reports every session it removed', async () => {
    const errors: Error[] = []
    const store = redisStore({ url: server.url, prefix: 'sweepidx:', onError: (e) => errors.push(e) })
    try {
      const now = Date.now()
      const a = sessionRecord({ principal: 'user:broken', expiresAt: now + 50 })
      const b = sessionRecord({ principal: null, expiresAt: now + 50 })
      await store.create(a)
      await store.create(b)
      // An index key of the wrong type makes its ZREM fail after the sweep script has deleted both.
      await cli(server.port, 'DEL', 'sweepidx:u:{user:broken}')
      await cli(server.port, 'SET', 'sweepidx:u:{user:broken}', 'not a sorted set')
      const swept = await store.sweep(now + 1_000, 1_000)
      assert.deepEqual(swept.map((e) => e.id).sort(), [a.id, b.id].sort())
      assert.equal(swept.find((e) => e.id === a.id)?.principal, 'user:broken')
      assert.deepEqual(await store.sweep(now + 1_000, 1_000), [])
      assertOneWrongTypeReport(errors, /1 per-user index entries/)
    } finally {
      await store.close()
    }
  })

  it('a sweep with a failing bucket returns the other buckets, reports the failure, and the next sweep retries it', async () => {
    const errors: Error[] = []
    // The handler also throws: that must not cost the sweep its report.
    const store = redisStore({
      url: server.url,
      prefix: 'sweepbkt:',
      onError: (e) => {
        errors.push(e)
        throw new Error('a handler that throws')
      },
    })
    try {
      const now = Date.now()
      const bucketKey = async (id: string) => (await cli(server.port, '--scan', '--pattern', `sweepbkt:*:s:${id}`)).trim()
      const broken = sessionRecord({ expiresAt: now + 50 })
      await store.create(broken)
      const brokenKey = await bucketKey(broken.id)
      const bucket = (k: string) => /\{([0-9a-f]{2})\}/.exec(k)?.[1]
      // A second session in another bucket (1 in 256 lands in the same one: make another).
      let healthy = sessionRecord({ principal: 'user:ok', expiresAt: now + 50 })
      await store.create(healthy)
      while (bucket(await bucketKey(healthy.id)) === bucket(brokenKey)) {
        healthy = sessionRecord({ principal: 'user:ok', expiresAt: now + 50 })
        await store.create(healthy)
      }
      // A session key of the wrong type makes that bucket's sweep script fail.
      await cli(server.port, 'DEL', brokenKey)
      await cli(server.port, 'SET', brokenKey, 'not a hash')
      const swept = await store.sweep(now + 1_000, 1_000)
      assert.ok(swept.some((e) => e.id === healthy.id && e.principal === 'user:ok'))
      assert.ok(!swept.some((e) => e.id === broken.id))
      assertOneWrongTypeReport(errors, /sweep: 1 of \d+ buckets failed/)
      // The failed bucket's session is still due: once the key is sound, the next sweep reports it.
      await cli(server.port, 'DEL', brokenKey)
      assert.deepEqual(
        (await store.sweep(now + 1_000, 1_000)).map((e) => e.id),
        [broken.id],
      )
    } finally {
      await store.close()
    }
  })

  it('answers 503 while Redis is down and recovers by itself when it is back, sessions intact', async () => {
    const own = await startRedis(['--save', '', '--appendonly', 'yes'])
    const sessions = createSessions({ store: redisStore({ url: own.url, prefix: 'down:' }), secret: SECRET, sweepInterval: false })
    const handle = await app(sessions)
    let restarted: RedisProcess | undefined
    try {
      const c = new Client(handle.url)
      await c.post('/set?k=a&v=41')
      await own.stop() // SIGTERM: an AOF server writes its data on shutdown
      const down = await c.get('/get?k=a')
      assert.equal(down.status, 503)
      assert.equal(down.body.code, 'STORE_UNAVAILABLE')
      assert.ok(down.headers.get('retry-after'))
      restarted = await startRedis(['--save', '', '--appendonly', 'yes'], own.port, own.dir)
      // The deadline only bounds the wait (the client reconnects with backoff); how fast is not asserted.
      await until('the app serves again', async () => (await c.get('/get?k=a')).status === 200, 10_000)
      assert.equal((await c.get('/get?k=a')).body.value, 41)
    } finally {
      await handle.close()
      await sessions.close()
      await restarted?.stop()
    }
  })

  it("durability 'replicated' refuses to acknowledge a save no replica has", async () => {
    const store = redisStore({ url: server.url, prefix: 'dur:', durability: { replicas: 1, timeoutMs: 50 } })
    await assert.rejects(store.create(sessionRecord()), (e: unknown) => e instanceof NotReplicatedError && e.acknowledged === 0)
    await store.close()
  })

  it('a store that cannot connect fails fast with StoreUnavailableError', async () => {
    const store = redisStore({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 300 })
    await assert.rejects(store.load(newId(), Date.now()), { code: 'STORE_UNAVAILABLE' })
    await store.close()
  })
})

