// The shared store conformance suite, run against shardedStore: over three memoryStore()s and
// over three real redis-server instances (private, on free ports), so a sharded store is a
// drop-in SessionStore whichever nodes it is made of.
import { after, before } from 'node:test'
import { shardedStore } from '../../src/cluster/index.js'
import { memoryStore } from '../../src/stores/memory/index.js'
import { redisStore } from '../../src/stores/redis/index.js'
import { startRedis, type RedisProcess } from '../../harness/redis.js'
import { describeStoreConformance } from '../stores/conformance.js'

let servers: RedisProcess[] = []

before(async () => {
  servers = await Promise.all([startRedis(), startRedis(), startRedis()])
})
after(async () => {
  await Promise.all(servers.map((s) => s.stop()))
})

describeStoreConformance('sharded over 3 memory stores', () =>
  shardedStore({ nodes: { 'mem-a': memoryStore(), 'mem-b': memoryStore(), 'mem-c': memoryStore() } }),
)

describeStoreConformance('sharded over 3 redis servers', () =>
  shardedStore({
    nodes: servers.map((s, i) => ({ name: `redis-${i}`, store: redisStore({ url: s.url, prefix: 'shard:' }) })),
  }),
)
