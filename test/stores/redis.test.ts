import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { redisStore } from '../../src/stores/redis/index.js'
import { startCluster, startRedis, startSentinel, type RedisClusterProcesses, type RedisProcess, type SentinelProcesses } from '../../harness/redis.js'
import { describeStoreConformance } from '../../src/testing/index.js'

let standalone: RedisProcess
let cluster: RedisClusterProcesses
let sentinel: SentinelProcesses

before(async () => {
  ;[standalone, cluster, sentinel] = await Promise.all([startRedis(), startCluster(3), startSentinel(1, 3)])
})
after(async () => {
  await Promise.all([standalone?.stop(), cluster?.stop(), sentinel?.stop()])
})

describeStoreConformance('redis standalone', () => redisStore({ url: standalone.url }))
describeStoreConformance('redis cluster (3 masters)', () => redisStore({ cluster: { rootNodes: cluster.rootNodes }, prefix: 'c1:' }))
describeStoreConformance('redis sentinel', () =>
  redisStore({ sentinel: { name: sentinel.name, sentinelRootNodes: sentinel.sentinelRootNodes }, prefix: 's1:' }),
)

describe('redis store smoke', () => {
  it('connects', async () => {
    const store = redisStore({ url: standalone.url, prefix: 'smoke:' })
    assert.equal(await store.count(Date.now()), 0)
    await store.close()
  })
})
