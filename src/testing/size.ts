import assert from 'node:assert/strict'
import { SessionTooLargeError } from '../core/errors.js'
import type { CompleteStore } from '../core/fallbacks.js'
import { sessionBytes } from '../core/ops.js'
import { changesDelta, delta, sessionRecord } from './records.js'
import type { TestRunner } from './runner.js'

/**
 * `maxSessionBytes` (stores that declare `limitsSize`): the store, not the request's view,
 * decides whether a delta fits, so concurrent requests cannot together pass `maxSize`.
 */
export function sizeConformance(t: TestRunner, store: () => CompleteStore): void {
  const created = async (attributes: Record<string, string>) => {
    const s = sessionRecord({ attributes: new Map(Object.entries(attributes)) })
    await store().create(s)
    return s
  }
  const stored = async (id: string) => {
    const s = await store().load(id, Date.now())
    assert.ok(s, 'the session is still there')
    return s
  }
  // 'user' + '"alice"': the record's own attribute, 11 bytes.
  const BASE = 11

  t.it('counts names and stored values in UTF-8 bytes: exactly at the limit applies, one byte more is refused and writes nothing', async () => {
    const s = await created({ user: '"alice"' })
    const value = JSON.stringify('é'.repeat(10)) // 22 bytes
    await store().apply(s.id, delta({ 'ü': value }, { maxSessionBytes: BASE + 2 + 22 }))
    assert.equal(sessionBytes((await stored(s.id)).attributes), BASE + 24)
    await assert.rejects(store().apply(s.id, delta({ x: '1' }, { maxSessionBytes: BASE + 24 + 1 })), (e: unknown) => e instanceof SessionTooLargeError && e.limit === BASE + 25)
    const after = await stored(s.id)
    assert.equal(after.version, 2)
    assert.equal(after.attributes.has('x'), false)
  })

  t.it('concurrent blind sets that each fit alone: the stored session never passes the limit, the rest are refused', async () => {
    const s = await created({ user: '"alice"' })
    const limit = 1_000
    const value = JSON.stringify('v'.repeat(98)) // name a00..a19 (3) + 100 = 103 bytes each; 9 fit
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => store().apply(s.id, delta({ [`a${String(i).padStart(2, '0')}`]: value }, { maxSessionBytes: limit }))),
    )
    const refused = outcomes.filter((o) => o.status === 'rejected')
    for (const o of refused) assert.ok(o.reason instanceof SessionTooLargeError, String(o.reason))
    const after = await stored(s.id)
    assert.ok(sessionBytes(after.attributes) <= limit, `${sessionBytes(after.attributes)} bytes stored`)
    assert.equal(outcomes.length - refused.length, Math.floor((limit - BASE) / 103))
    assert.equal(after.attributes.size, 1 + outcomes.length - refused.length)
    assert.equal(after.version, 1 + outcomes.length - refused.length)
  })

  t.it('a delta that shrinks the session or keeps its size applies even over the limit; one that grows it there is refused', async () => {
    const s = await created({ user: '"alice"', big: JSON.stringify('b'.repeat(500)), other: '"12345"' })
    const limit = 100
    await assert.rejects(store().apply(s.id, delta({ more: '1' }, { maxSessionBytes: limit })), SessionTooLargeError)
    await store().apply(s.id, delta({ other: '"54321"' }, { maxSessionBytes: limit }))
    await store().apply(s.id, delta({ big: JSON.stringify('b'.repeat(200)), other: null }, { maxSessionBytes: limit }))
    await store().apply(s.id, delta({ big: null, small: '"now it fits"' }, { maxSessionBytes: limit }))
    const after = await stored(s.id)
    assert.deepEqual([...after.attributes.keys()].sort(), ['small', 'user'])
    assert.ok(sessionBytes(after.attributes) <= limit)
  })

  t.it('atomic results count towards the total: an append past the limit is refused and writes nothing', async () => {
    const s = await created({ user: '"alice"', list: JSON.stringify(['x'.repeat(50)]) })
    const limit = BASE + 4 + 56 + 10
    await store().apply(s.id, changesDelta([['list', { op: 'append', value: '1' }]], { maxSessionBytes: limit }))
    await assert.rejects(
      store().apply(s.id, changesDelta([['list', { op: 'append', value: JSON.stringify('y'.repeat(20)) }], ['n', { op: 'increment', by: 1 }]], { maxSessionBytes: limit })),
      SessionTooLargeError,
    )
    const after = await stored(s.id)
    assert.deepEqual(JSON.parse(after.attributes.get('list') ?? 'null'), ['x'.repeat(50), 1])
    assert.equal(after.attributes.has('n'), false)
    assert.equal(after.version, 2)
  })
}
