// The shared store conformance suite, run against shardedStore: over three memoryStore()s and
// over three real redis-server instances (private, on free ports), so a sharded store is a
// drop-in SessionStore whichever nodes it is made of. Over Redis the nodes' change feeds pass
// through, so a sharded Redis fleet keeps near caches coherent with no bus.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { shardedStore } from '../../src/cluster/index.js'
import { createSessions } from '../../src/index.js'
import { memoryStore } from '../../src/stores/memory/index.js'
import { redisStore } from '../../src/stores/redis/index.js'
import { cli, startRedis, type RedisProcess } from '../../harness/redis.js'
import { describeStoreConformance } from '../../src/testing/index.js'
import { cookiePair, run, SECRET } from '../core/helpers.js'

let servers: RedisProcess[] = []

before(async () => {
  servers = await Promise.all([startRedis(), startRedis(), startRedis()])
})
after(async () => {
  await Promise.all(servers.map((s) => s.stop()))
})

const shardedRedis = (prefix: string) =>
  shardedStore({ nodes: servers.map((s, i) => ({ name: `redis-${i}`, store: redisStore({ url: s.url, prefix }) })) })

describeStoreConformance('sharded over 3 memory stores', () =>
  shardedStore({ nodes: { 'mem-a': memoryStore(), 'mem-b': memoryStore(), 'mem-c': memoryStore() } }),
)

describeStoreConformance('sharded over 3 redis servers', () => shardedRedis('shard:'), {
  // One node's feed cut is the whole feed's loss: its changes would go unannounced.
  interruptFeed: async () => {
    await cli(servers[1]!.port, 'CLIENT', 'KILL', 'TYPE', 'pubsub')
  },
})

describe('near cache over a sharded Redis fleet, no bus', () => {
  it("the nodes' change feeds pass through: B's cached copy is dropped when A writes", async () => {
    const make = () => createSessions({ store: shardedRedis('cache:'), secret: SECRET, nearCache: true, sweepInterval: false })
    const [a, b] = [make(), make()]
    try {
      for (const s of [a, b]) {
        const deadline = Date.now() + 10_000
        while (!s.nearCacheStats()?.enabled) {
          assert.ok(Date.now() < deadline, 'the cache is enabled once every node feed delivers')
          await new Promise((r) => setTimeout(r, 5))
        }
      }
      const login = await run(a, undefined, (rs) => {
        rs.view.note = 'first'
      })
      const cookie = cookiePair(login)
      assert.ok(cookie)
      await run(b, cookie, (rs) => assert.equal(rs.view.note, 'first'))
      const hits = b.nearCacheStats()!.hits
      await run(b, cookie, (rs) => assert.equal(rs.view.note, 'first'))
      assert.equal(b.nearCacheStats()!.hits, hits + 1, 'B serves the session from its cache')
      await run(a, cookie, (rs) => {
        rs.view.note = 'second'
      })
      const deadline = Date.now() + 10_000
      for (;;) {
        const seen = await run(b, cookie, () => {})
        if (seen.session.get('note') === 'second') break
        assert.ok(Date.now() < deadline, "B hears of A's write through the node's change feed")
        await new Promise((r) => setTimeout(r, 5))
      }
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })
})
