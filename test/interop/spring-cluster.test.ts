/**
 * The Spring Session layout on a Redis Cluster, where Spring's keys for one session are in
 * different slots: the session hash is changed atomically, Spring's other keys right after
 * (src/interop/spring/scripts.ts). The shared store suite, then the layout's keys.
 *
 * Run: node --import tsx --test test/interop/spring-cluster.test.ts
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { springSessionStore } from '../../src/interop/spring/store.js'
import { connectRedis, type RedisConnection } from '../../src/redis/index.js'
import { describeStoreConformance, sessionRecord } from '../../src/testing/index.js'
import { type RedisClusterProcesses, startCluster } from '../../harness/redis.js'
import { keysOf, roundUpToNextMinute } from './fixtures/spring/spring-writes.js'

let cluster: RedisClusterProcesses
const connect = () => connectRedis({ cluster: { rootNodes: cluster.rootNodes } }, () => {})

before(async () => {
  cluster = await startCluster(3)
})
after(async () => {
  await cluster.stop()
})

// Not `atomic`: the suite sends increment, append and merge through the core's compare-and-set, as createSessions does.
describeStoreConformance('spring-session layout on Redis Cluster', () => springSessionStore({ cluster: { rootNodes: cluster.rootNodes } }))

describe('spring-session layout on Redis Cluster: the keys Spring reads', () => {
  let connection: RedisConnection
  let store: ReturnType<typeof springSessionStore>
  before(async () => {
    connection = await connect()
    store = springSessionStore({ cluster: { rootNodes: cluster.rootNodes }, namespace: 'cluster:spring:session' })
  })
  after(async () => {
    await store.close()
    await connection.close()
  })
  const cmd = <T>(args: string[]) => connection.command<T>(args[1], args)

  it('create, changeId and destroy keep the shadow key, minute bucket and principal index in step across slots', async () => {
    const s = sessionRecord({ principal: 'carol', idleTimeoutMs: 1_800_000 })
    await store.create(s)
    let k = keysOf('cluster:spring:session', s.id)
    const bucket = `cluster:spring:session:expirations:${roundUpToNextMinute(s.expiresAt)}`
    assert.equal(await cmd<string>(['GET', k.shadow]), '')
    assert.ok((await cmd<string[]>(['SMEMBERS', bucket])).includes(JSON.stringify(`expires:${s.id}`)))
    assert.deepEqual(await cmd<string[]>(['SMEMBERS', k.index('carol')]), [JSON.stringify(s.id)])

    const moved = sessionRecord().id
    assert.equal(await store.changeId(s.id, moved, Date.now()), true)
    assert.equal(await cmd<number>(['EXISTS', k.session]), 0)
    k = keysOf('cluster:spring:session', moved)
    assert.deepEqual(await cmd<string[]>(['SMEMBERS', k.index('carol')]), [JSON.stringify(moved)])
    assert.deepEqual(await store.findByPrincipal('carol', Date.now()), [moved])

    assert.equal(await store.destroy(moved), true)
    assert.equal(await cmd<string>(['HGET', k.session, 'maxInactiveInterval']), '0')
    assert.equal(await cmd<number>(['EXISTS', k.shadow]), 0)
    assert.deepEqual(await cmd<string[]>(['SMEMBERS', k.index('carol')]), [])
  })
})
