/**
 * The Redis Streams bus against a redis-server started here: the shared behaviour suite (a
 * cut connection is CLIENT KILL of the subscriber's named reader), plus Redis-only promises:
 * MAXLEN trimming, gap reports, an entry without our field, a client passed in. The same
 * suite on a Redis Cluster is in bus-redis-cluster.test.ts.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { BusGapError, MalformedEventError } from '../../src/core/errors.js'
import { redisStreamBus } from '../../src/cluster/bus/redis-streams.js'
import type { BusEvent } from '../../src/core/bus.js'
import { cli, startRedis, until, type RedisProcess } from '../../harness/redis.js'
import { busSuite, killByName } from './fixtures/bus-suite.js'

let server: RedisProcess
before(async () => {
  server = await startRedis()
})
after(async () => {
  await server?.stop()
})

busSuite('redis standalone', () => ({
  make: (stream, extra) => redisStreamBus({ redis: { url: server.url }, stream, ...extra }),
  fixture: (stream, clientName) => ({ kind: 'redis', url: server.url, stream, clientName }),
  cut: (name) => killByName([server.port], name),
  writeRaw: async (stream, raw) => void (await cli(server.port, 'XADD', stream, '*', 'e', raw)),
}))

describe('redis stream bus specifics', () => {
  it('trims the stream to about maxLen and reports events trimmed before a consumer read them', async () => {
    const stream = `trim-${process.pid}`
    const bus = redisStreamBus({ redis: { url: server.url }, stream, maxLen: 10 })
    try {
      const first = await bus.publish({ type: 'expired', id: 'e0', principal: null, at: 0, origin: 'o' })
      for (let i = 1; i < 500; i++) await bus.publish({ type: 'expired', id: `e${i}`, principal: null, at: i, origin: 'o' })
      // MAXLEN ~ trims whole macro nodes (100 entries by default), so "about" 10 is at most ~110.
      assert.ok(Number(await cli(server.port, 'XLEN', stream)) <= 110)
      const errors: Error[] = []
      const got: BusEvent[] = []
      const sub = bus.subscribe((e) => void got.push(e), { from: first, onError: (e) => errors.push(e) })
      await until('caught up', async () => got.at(-1)?.id === 'e499')
      await sub.close()
      const gap = errors.find((e) => e instanceof BusGapError)
      assert.ok(gap, 'a gap is reported')
      assert.equal(gap.after, first)
      assert.equal(got[0]!.eventId, gap.resumedAt)
    } finally {
      await bus.close()
    }
  })

  it('skips an entry without the event field', async () => {
    const stream = `foreign-${process.pid}`
    const errors: Error[] = []
    const got: BusEvent[] = []
    const bus = redisStreamBus({ redis: { url: server.url }, stream, onError: (e) => errors.push(e) })
    try {
      const sub = bus.subscribe((e) => void got.push(e))
      await until('connected', async () => sub.status === 'connected')
      await cli(server.port, 'XADD', stream, '*', 'foo', 'bar')
      await bus.publish({ type: 'created', id: 'ok', principal: null, at: 1, origin: 'o' })
      await until('delivered', async () => got.length === 1)
      assert.equal(got[0]!.id, 'ok')
      assert.equal(errors.filter((e) => e instanceof MalformedEventError).length, 1)
    } finally {
      await bus.close()
    }
  })

  it('works over a node-redis client you pass in, and leaves it open', async () => {
    const { createClient } = await import('redis')
    const client = createClient({ url: server.url })
    await client.connect()
    const bus = redisStreamBus({ redis: client, stream: `own-${process.pid}` })
    try {
      const got: BusEvent[] = []
      const sub = bus.subscribe((e) => void got.push(e))
      await until('connected', async () => sub.status === 'connected')
      await bus.publish({ type: 'created', id: 'mine', principal: null, at: 1, origin: 'o' })
      await until('delivered', async () => got.length === 1)
    } finally {
      await bus.close()
    }
    assert.equal(await client.ping(), 'PONG')
    await client.close()
  })
})
