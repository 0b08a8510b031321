/**
 * The bus's transport-free parts: strict decoding of entries, the bounded de-duplication
 * window, the Delivery's position and duplicate handling, and the bridge's refusals (own
 * events not emitted twice, remote events not re-published), over an in-memory ChangeBus.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { connectBus } from '../../src/core/bus-bridge.js'
import { decodeEvent, encodeEvent } from '../../src/cluster/bus/codec.js'
import { RecentIds } from '../../src/cluster/bus/dedupe.js'
import { compareDecimal, Delivery } from '../../src/cluster/bus/delivery.js'
import { BusHandlerError, MalformedEventError } from '../../src/core/errors.js'
import { compareStreamIds } from '../../src/cluster/bus/redis-streams.js'
import type { BusEvent, BusEventInput, BusHandler, ChangeBus } from '../../src/core/bus.js'
import { SessionEvents } from '../../src/core/events.js'

describe('bus codec', () => {
  it('round-trips every event type', () => {
    const events: BusEventInput[] = [
      { type: 'created', id: 'a', principal: 'p', at: 1, origin: 'o' },
      { type: 'updated', id: 'a', principal: null, at: 2, origin: 'o', keys: ['x', '__proto__'] },
      { type: 'id-changed', id: 'b', principal: null, at: 3, origin: 'o', previousId: 'a' },
      { type: 'destroyed', id: 'b', principal: null, at: 4, origin: 'o', reason: 'destroy' },
    ]
    for (const e of events) assert.deepEqual(decodeEvent('7', encodeEvent(e)), { ...e, eventId: '7' })
  })

  it('refuses what is not an event, without throwing', () => {
    const ok = { v: 1, type: 'created', id: 'a', principal: null, at: 1, origin: 'o' }
    for (const raw of [
      undefined, 42, 'x'.repeat(300_000), '', '"text"',
      JSON.stringify({ ...ok, id: '' }), JSON.stringify({ ...ok, at: 'now' }), JSON.stringify({ ...ok, principal: 5 }),
      JSON.stringify({ ...ok, origin: null }), JSON.stringify({ ...ok, type: 'updated' }), JSON.stringify({ ...ok, type: 'id-changed' }),
      JSON.stringify({ ...ok, keys: [1] }), JSON.stringify({ ...ok, reason: 7 }),
    ]) {
      assert.ok(decodeEvent('1', raw) instanceof MalformedEventError, String(raw).slice(0, 80))
    }
    assert.throws(() => encodeEvent({ type: 'updated', id: 'a', principal: null, at: 1, origin: 'o' }), TypeError)
  })
})

describe('dedupe window and delivery', () => {
  it('remembers the last `capacity` ids only', () => {
    const r = new RecentIds(3)
    for (const id of ['1', '2', '3']) assert.equal(r.add(id), true)
    assert.equal(r.add('2'), false)
    r.add('4')
    assert.equal(r.has('1'), false)
    assert.equal(r.has('4'), true)
  })

  it('hands each id over once, skips what is not after the position, and survives a failing handler', async () => {
    const got: string[] = []
    const errors: Error[] = []
    const handler: BusHandler = (e) => {
      got.push(e.eventId)
      if (e.eventId === '3') throw new Error('boom')
    }
    const d = new Delivery(handler, { from: '1' }, { onError: (e) => errors.push(e) }, compareDecimal)
    const body = encodeEvent({ type: 'created', id: 'a', principal: null, at: 1, origin: 'o' })
    for (const id of ['1', '2', '2', '3', '10', '3', '9']) await d.accept(id, body)
    assert.deepEqual(got, ['2', '3', '10'])
    assert.equal(d.lastId, '10')
    assert.ok(errors[0] instanceof BusHandlerError)
  })

  it('orders stream and decimal ids as numbers', () => {
    assert.ok(compareStreamIds('9-1', '10-0') < 0)
    assert.ok(compareStreamIds('10-2', '10-10') < 0)
    assert.equal(compareStreamIds('0', '0-0'), 0)
    assert.ok(compareDecimal('9', '10') < 0)
  })
})

/** A ChangeBus in memory: every publish goes to every subscriber, like a stream with one reader each. */
function memoryBus(): ChangeBus & { log: BusEvent[] } {
  const log: BusEvent[] = []
  const handlers = new Set<BusHandler>()
  return {
    kind: 'memory',
    log,
    async publish(e) {
      const event = { ...e, eventId: String(log.length + 1) }
      log.push(event)
      for (const h of handlers) await h(event)
      return event.eventId
    },
    subscribe(h, o) {
      handlers.add(h)
      o?.onStatus?.('connected')
      return { lastId: null, status: 'connected', close: async () => void handlers.delete(h) }
    },
    async close() {
      handlers.clear()
    },
  }
}

describe('connectBus bridge', () => {
  it('publishes local events once, never re-publishes remote ones, and maps revoke', async () => {
    const bus = memoryBus()
    const a = new SessionEvents()
    const b = new SessionEvents()
    const la = connectBus(a, bus, { instanceId: 'A' })
    const lb = connectBus(b, bus, { instanceId: 'B' })
    const onB: unknown[] = []
    b.on('destroyed', (e) => void onB.push(e))
    a.emit('destroyed', { id: 's1', principal: 'p', at: 1, reason: 'revoked' })
    await new Promise<void>((resolve) => setImmediate(resolve))
    await la.close()
    await lb.close()
    assert.deepEqual(bus.log.map((e) => [e.type, e.origin]), [['revoked', 'A']])
    assert.deepEqual(onB, [{ id: 's1', principal: 'p', at: 1, origin: 'A', reason: 'revoked' }])
  })
})
