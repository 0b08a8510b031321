/**
 * The NATS JetStream bus against a nats-server started here (never the shared one on 4222):
 * the shared behaviour suite, where a cut connection is a server restart (the stream is on
 * disk and survives it), plus JetStream's publish de-duplication.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstream } from '@nats-io/jetstream'
import { natsBus } from '../../src/cluster/bus/nats.js'
import type { BusEvent } from '../../src/core/bus.js'
import { startNats, type NatsProcess } from '../../harness/nats.js'
import { until } from '../../harness/redis.js'
import { busSuite } from './fixtures/bus-suite.js'

let server: NatsProcess
before(async () => {
  server = await startNats()
})
after(async () => {
  await server?.stop()
})

const subjectOf = (stream: string) => `t.${stream}`

/** A short-lived connection for writing raw entries. */
async function withConnection<T>(fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: server.url })
  try {
    return await fn(nc)
  } finally {
    await nc.close()
  }
}

busSuite('nats', () => ({
  make: (stream, extra) => natsBus({ servers: server.url, stream, subject: subjectOf(stream), ...(extra?.onError ? { onError: extra.onError } : {}) }),
  fixture: (stream) => ({ kind: 'nats', url: server.url, stream, subject: subjectOf(stream) }),
  cut: () => server.restart(),
  writeRaw: (stream, raw) => withConnection(async (nc) => void (await jetstream(nc).publish(subjectOf(stream), raw))),
}))

describe('nats bus specifics', () => {
  it('a re-sent publish with the same message id is stored once', async () => {
    const stream = `dedupe_${process.pid}`
    const bus = natsBus({ servers: server.url, stream, subject: subjectOf(stream) })
    try {
      const got: BusEvent[] = []
      const sub = bus.subscribe((e) => void got.push(e))
      await until('connected', async () => sub.status === 'connected')
      const body = JSON.stringify({ v: 1, type: 'created', id: 'once', principal: null, at: 1, origin: 'o' })
      const acks = await withConnection(async (nc) => {
        const js = jetstream(nc)
        return [await js.publish(subjectOf(stream), body, { msgID: 'same' }), await js.publish(subjectOf(stream), body, { msgID: 'same' })]
      })
      assert.equal(acks[1]!.duplicate, true)
      assert.equal(acks[1]!.seq, acks[0]!.seq)
      const marker = await bus.publish({ type: 'created', id: 'marker', principal: null, at: 2, origin: 'o' })
      await until('marker delivered', async () => got.some((e) => e.eventId === marker))
      assert.deepEqual(got.map((e) => e.id), ['once', 'marker'])
    } finally {
      await bus.close()
    }
  })
})
