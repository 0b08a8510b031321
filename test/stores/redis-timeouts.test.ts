/**
 * Timeouts that fire, on a real redis-server paused with SIGSTOP (it keeps its sockets and
 * takes commands, but never answers: what a network black hole looks like to a client):
 * a request answers 503 instead of hanging, the connection is dropped and made again, and
 * after SIGCONT the same app serves again; the same on one master of a Cluster, and for the
 * Redis Streams bus. `replicated` durability's WAIT holds up no one (standalone and Cluster).
 * No elapsed times are asserted: a hang fails a test by its own timeout.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import { BusUnavailableError, CommandTimeoutError, ConfigurationError, createSessions, NotReplicatedError, type Sessions } from '../../src/index.js'
import { springSessionStore } from '../../src/interop/index.js'
import { redisStore } from '../../src/stores/redis/index.js'
import { KeyLayout } from '../../src/stores/redis/keys.js'
import { sessionRecord } from '../../src/testing/index.js'
import { quorumLocks } from '../../src/stores/redis/quorum-locks.js'
import { redisStreamBus } from '../../src/cluster/bus/redis-streams.js'
import type { BusEvent } from '../../src/core/bus.js'
import { startExpress } from '../adapters/express-app.js'
import { Client } from '../../harness/http.js'
import { cli, startCluster, startRedis, until, type RedisProcess } from '../../harness/redis.js'

const SECRET = 'timeouts-test-secret-of-at-least-32-chars!'
const app = startExpress(() => express())
const HANG = { timeout: 30_000 }

/** Runs `body` with `server` paused; resumes it whatever happens. */
async function paused<T>(server: RedisProcess, body: () => Promise<T>): Promise<T> {
  const pid = server.process.pid
  assert.ok(pid !== undefined)
  process.kill(pid, 'SIGSTOP')
  try {
    return await body()
  } finally {
    process.kill(pid, 'SIGCONT')
  }
}

/** Ids of the connections the server has, other than the redis-cli asking. */
async function clientIds(port: number): Promise<string[]> {
  const list = await cli(port, 'CLIENT', 'LIST')
  return list
    .split('\n')
    .filter((l) => !l.includes('cmd=client|list'))
    .map((l) => /(?:^| )id=(\d+)/.exec(l)?.[1] ?? '')
    .filter((id) => id !== '')
}

let server: RedisProcess
before(async () => {
  server = await startRedis()
})
after(async () => {
  await server?.stop()
})

describe('a Redis that stops answering', () => {
  it('answers 503 through Express, drops the silent connection, and serves again after it resumes', HANG, async () => {
    const own = await startRedis()
    let sessions: Sessions | undefined
    const handle = await app((sessions = createSessions({ store: redisStore({ url: own.url, prefix: 'bh:', commandTimeout: '300ms' }), secret: SECRET, sweepInterval: false })))
    try {
      const c = new Client(handle.url)
      assert.equal((await c.post('/set?k=a&v=41')).status, 200)
      const before = await clientIds(own.port)
      assert.equal(before.length, 1, 'the store has one connection')
      const [read, write] = await paused(own, () => Promise.all([c.get('/get?k=a'), c.post('/set?k=a&v=42')]))
      for (const answer of [read, write]) {
        assert.equal(answer.status, 503)
        assert.ok(answer.headers.get('retry-after'))
      }
      // The first to time out drops the connection; a command still waiting on it fails with it.
      assert.ok([read, write].some((a) => a.body.code === 'COMMAND_TIMEOUT'))
      assert.ok([read, write].every((a) => a.body.code === 'COMMAND_TIMEOUT' || a.body.code === 'STORE_UNAVAILABLE'))
      // No restart of the app: the store's new connection serves, and the old one is gone.
      await until('the app serves again', async () => (await c.get('/get?k=a')).status === 200, 10_000)
      await until('the silent connection is dropped', async () => !(await clientIds(own.port)).includes(before[0]!), 10_000)
      // The write that timed out may or may not have run: its outcome was never acknowledged.
      assert.ok([41, 42].includes((await c.get('/get?k=a')).body.value as number))
      assert.equal((await c.post('/set?k=a&v=43')).status, 200)
      assert.equal((await c.get('/get?k=a')).body.value, 43)
    } finally {
      await handle.close()
      await sessions.close()
      await own.stop()
    }
  })

  it('fails a store call with CommandTimeoutError, a StoreUnavailableError', HANG, async () => {
    const own = await startRedis()
    const store = redisStore({ url: own.url, prefix: 'bh2:', commandTimeout: 200 })
    try {
      assert.equal(await store.count(Date.now()), 0)
      await paused(own, () =>
        assert.rejects(store.load('x'.repeat(43), Date.now()), (e: unknown) => e instanceof CommandTimeoutError && e.code === 'COMMAND_TIMEOUT' && e.status === 503),
      )
      await until('the store answers again', async () => (await store.count(Date.now())) === 0, 10_000)
    } finally {
      await store.close()
      await own.stop()
    }
  })

  it("springSessionStore: a silent Redis fails a call with CommandTimeoutError, and the store serves again once it resumes", HANG, async () => {
    const own = await startRedis()
    const store = springSessionStore({ url: own.url, namespace: 'bh3:spring:session', commandTimeout: 200 })
    try {
      assert.equal(await store.load('x'.repeat(43), Date.now()), null)
      await paused(own, () => assert.rejects(store.load('x'.repeat(43), Date.now()), (e: unknown) => e instanceof CommandTimeoutError && e.status === 503))
      await until('the store answers again', async () => (await store.load('x'.repeat(43), Date.now())) === null, 10_000)
    } finally {
      await store.close()
      await own.stop()
    }
  })

  it('refuses a commandTimeout that is not a duration', () => {
    assert.throws(() => redisStore({ url: server.url, commandTimeout: 'soon' as '1s' }), ConfigurationError)
    assert.throws(() => springSessionStore({ url: server.url, commandTimeout: 0 }), ConfigurationError)
    assert.throws(() => redisStreamBus({ redis: { url: server.url }, commandTimeout: -1 }), ConfigurationError)
    assert.throws(() => quorumLocks({ masters: [{ url: server.url }, { url: server.url }, { url: server.url }], commandTimeout: '2 s' }), ConfigurationError)
  })
})

describe("durability 'replicated' with no replica", () => {
  it('a WAIT still pending holds up no read-only request on the same store', HANG, async () => {
    const prefix = 'rep:'
    // The session is made by a store without durability (a replicated create would wait too).
    const plain = createSessions({ store: redisStore({ url: server.url, prefix }), secret: SECRET, sweepInterval: false })
    const replicated = createSessions({
      store: redisStore({ url: server.url, prefix, durability: { replicas: 1, timeoutMs: 3_000 } }),
      secret: SECRET,
      sweepInterval: false,
    })
    const [plainApp, replicatedApp] = [await app(plain), await app(replicated)]
    try {
      const setter = new Client(plainApp.url)
      assert.equal((await setter.post('/set?k=a&v=1')).status, 200)
      const c = new Client(replicatedApp.url)
      c.cookie = setter.cookie
      const order: string[] = []
      // The write first, then the read: before, the read queued behind the write's WAIT.
      const write = c.post('/set?k=b&v=2').then((r) => (order.push('write'), r))
      const read = c.get('/get?k=a').then((r) => (order.push('read'), r))
      const [w, r] = await Promise.all([write, read])
      assert.deepEqual(order, ['read', 'write'])
      assert.equal(r.status, 200)
      assert.equal(r.body.value, 1)
      // No replica acknowledged: the save is not reported as durable (docs/REDIS.md).
      assert.equal(w.status, 503)
      assert.equal(w.body.code, 'NOT_REPLICATED')
    } finally {
      await plainApp.close()
      await replicatedApp.close()
      await plain.close()
      await replicated.close()
    }
  })
})

describe('a Redis Cluster master that stops answering', () => {
  it("times out that shard's commands while the other shards serve, and serves again once it resumes", HANG, async () => {
    const cluster = await startCluster(3, 0)
    const prefix = 'cbh:'
    const store = redisStore({ cluster: { rootNodes: cluster.rootNodes }, prefix, commandTimeout: '300ms' })
    const keys = new KeyLayout(prefix)
    /** The node serving `id`'s slot, from CLUSTER NODES. */
    const ownerOf = async (id: string) => {
      const slot = Number(await cli(cluster.nodes[0]!.port, 'CLUSTER', 'KEYSLOT', keys.session(id)))
      const line = (await cli(cluster.nodes[0]!.port, 'CLUSTER', 'NODES')).split('\n').find((l) =>
        l.split(' ').slice(8).some((r) => {
          const [from, to = from] = r.split('-').map(Number)
          return from !== undefined && to !== undefined && slot >= from && slot <= to
        }),
      )
      const port = Number(/:(\d+)@/.exec(line ?? '')?.[1])
      return cluster.nodes.find((n) => n.port === port)!
    }
    try {
      const a = sessionRecord()
      await store.create(a)
      const silent = await ownerOf(a.id)
      let b = sessionRecord()
      while ((await ownerOf(b.id)) === silent) b = sessionRecord()
      await store.create(b)
      const [late, served] = await paused(silent, () =>
        Promise.all([store.load(a.id, Date.now()).then(() => null, (e: unknown) => e), store.load(b.id, Date.now())]),
      )
      assert.ok(late instanceof CommandTimeoutError)
      assert.equal(served?.id, b.id)
      await until('the silent shard serves again', async () => (await store.load(a.id, Date.now()))?.id === a.id, 10_000)
    } finally {
      await store.close()
      await cluster.stop()
    }
  })
})

describe("durability 'replicated' on a Redis Cluster with no replicas", () => {
  it("a write's WAIT, on a lane to its slot's master, holds up no read of a session on the same master", HANG, async () => {
    const cluster = await startCluster(3, 0)
    const prefix = 'crep:'
    const plain = redisStore({ cluster: { rootNodes: cluster.rootNodes }, prefix })
    const replicated = redisStore({ cluster: { rootNodes: cluster.rootNodes }, prefix, durability: { replicas: 1, timeoutMs: 3_000 } })
    try {
      const s = sessionRecord()
      await plain.create(s)
      // A new session in the same slot: its create (and WAIT) and the read go to the same master.
      const keys = new KeyLayout(prefix)
      const slotOf = (id: string) => /\{([^}]*)\}/.exec(keys.session(id))?.[1]
      let other = sessionRecord()
      while (slotOf(other.id) !== slotOf(s.id)) other = sessionRecord()
      const order: string[] = []
      const write = replicated.create(other).then(
        () => (order.push('write'), null),
        (e: unknown) => (order.push('write'), e),
      )
      const read = replicated.load(s.id, Date.now()).then((found) => (order.push('read'), found))
      const [refused, found] = await Promise.all([write, read])
      assert.deepEqual(order, ['read', 'write'])
      assert.equal(found?.id, s.id)
      assert.ok(refused instanceof NotReplicatedError)
    } finally {
      await plain.close()
      await replicated.close()
      await cluster.stop()
    }
  })
})

describe('the Redis Streams bus and a Redis that stops answering', () => {
  it('a publish fails with BusUnavailableError, and publishing and delivery resume after it resumes', HANG, async () => {
    const own = await startRedis()
    const stream = `bh-${process.pid}`
    const errors: Error[] = []
    const bus = redisStreamBus({ redis: { url: own.url }, stream, commandTimeout: '300ms', blockMs: 200 })
    try {
      const got: BusEvent[] = []
      const sub = bus.subscribe((e) => void got.push(e), { onError: (e) => errors.push(e) })
      await until('connected', async () => sub.status === 'connected')
      await bus.publish({ type: 'expired', id: 'before', principal: null, at: 1, origin: 'o' })
      await until('delivered before', async () => got.some((e) => e.id === 'before'))
      await paused(own, async () => {
        await assert.rejects(bus.publish({ type: 'expired', id: 'during', principal: null, at: 2, origin: 'o' }), (e: unknown) => e instanceof BusUnavailableError && e.cause instanceof CommandTimeoutError)
        // The reader's BLOCK runs out with no answer: the subscription says so.
        await until('the subscription reports the silence', async () => sub.status === 'disconnected' && errors.some((e) => e instanceof BusUnavailableError), 10_000)
      })
      await until('publishing works again', async () => {
        await bus.publish({ type: 'expired', id: 'after', principal: null, at: 3, origin: 'o' })
        return true
      }, 10_000)
      await until('delivered after', async () => got.some((e) => e.id === 'after'), 10_000)
      assert.equal(sub.status, 'connected')
      await sub.close()
    } finally {
      await bus.close()
      await own.stop()
    }
  })
})
