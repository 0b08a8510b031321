import assert from 'node:assert/strict'
import { ConfigurationError, SessionNotFoundError, StaleFenceError } from '../core/errors.js'
import type { CompleteStore } from '../core/fallbacks.js'
import { changesDelta, delta, newId, sessionRecord } from './records.js'
import type { TestRunner } from './runner.js'

/** Lease locks and fences, for a store that has the four lock operations. */
export function lockConformance(t: TestRunner, store: () => CompleteStore): void {
  const created = async () => {
    const s = sessionRecord()
    await store().create(s)
    return s
  }
  const value = async (id: string, name: string) => (await store().load(id, Date.now()))?.attributes.get(name)

  t.it('rejects a stale fence and records newer ones', async () => {
    const s = sessionRecord()
    await store().create(s)
    await store().apply(s.id, delta({ x: 'fenced-5' }), { fence: 5 })
    await assert.rejects(store().apply(s.id, delta({ x: 'stale-4' }), { fence: 4 }), StaleFenceError)
    await store().apply(s.id, delta({ x: 'fenced-5-again' }), { fence: 5 })
    await store().apply(s.id, delta({ x: 'fenced-7' }), { fence: 7 })
    const loaded = await store().load(s.id, Date.now())
    assert.equal(loaded?.attributes.get('x'), 'fenced-7')
    assert.equal(loaded?.fence, 7)
  })

  t.it('lock: one holder at a time, renewal by the holder only, release by the holder only', async () => {
    const s = await created()
    const now = Date.now()
    const f1 = await store().lock(s.id, 'a', 10_000, now)
    assert.ok(typeof f1 === 'number' && f1 >= 1)
    assert.equal(await store().lock(s.id, 'b', 10_000, now), null)
    assert.equal(await store().extendLock(s.id, 'b', 10_000, now), false)
    assert.equal(await store().extendLock(s.id, 'a', 10_000, now), true)
    assert.equal(await store().unlock(s.id, 'b'), false)
    assert.equal(await store().lock(s.id, 'b', 10_000, Date.now()), null, 'a failed unlock by b leaves a holding it')
    assert.equal(await store().unlock(s.id, 'a'), true)
    const f2 = await store().lock(s.id, 'b', 10_000, Date.now())
    assert.ok(f2 !== null && f2 > f1, 'the fence rises with every lock taken')
    await assert.rejects(store().lock(newId(), 'a', 10_000, Date.now()), SessionNotFoundError)
  })

  t.it('an expired lease can be taken by another owner, and the old holder cannot renew it', async () => {
    const s = await created()
    assert.notEqual(await store().lock(s.id, 'a', 30, Date.now()), null)
    // Wall time, not an iteration count, bounds the wait: a fast store takes thousands of
    // lock attempts inside the 30 ms lease (Redis expires it by its own clock).
    const deadline = Date.now() + 5_000
    let fence: number | null = null
    while (fence === null) {
      assert.ok(Date.now() < deadline, 'the lease must run out')
      fence = await store().lock(s.id, 'b', 10_000, Date.now())
      if (fence === null) await new Promise((r) => setTimeout(r, 1))
    }
    assert.equal(await store().extendLock(s.id, 'a', 10_000, Date.now()), false)
  })

  t.it('a save carrying an older fence than the latest lock is refused, even before the new holder wrote', async () => {
    const s = await created()
    const f1 = (await store().lock(s.id, 'a', 10_000, Date.now())) as number
    await store().apply(s.id, changesDelta([['x', { op: 'set', value: '1' }]]), { fence: f1 })
    await store().unlock(s.id, 'a')
    const f2 = (await store().lock(s.id, 'b', 10_000, Date.now())) as number
    await assert.rejects(store().apply(s.id, changesDelta([['x', { op: 'set', value: '"stale"' }]]), { fence: f1 }), StaleFenceError)
    await store().apply(s.id, changesDelta([['x', { op: 'increment', by: 1 }]]), { fence: f2 })
    assert.equal(await value(s.id, 'x'), '2')
    const f3 = await store().raiseFence(s.id, Date.now())
    assert.equal(f3, f2 + 1)
    await assert.rejects(store().apply(s.id, changesDelta([['x', { op: 'set', value: '0' }]]), { fence: f2 }), StaleFenceError)
    await assert.rejects(store().raiseFence(newId(), Date.now()), SessionNotFoundError)
  })
}

/** For a store without locks: the core's stand-ins refuse clearly instead of pretending. */
export function noLockConformance(t: TestRunner, store: () => CompleteStore): void {
  t.it('without lock operations, locking is refused with ConfigurationError', async () => {
    const s = sessionRecord()
    await store().create(s)
    await assert.rejects(store().lock(s.id, 'a', 10_000, Date.now()), ConfigurationError)
    await assert.rejects(store().raiseFence(s.id, Date.now()), ConfigurationError)
  })
}
