/**
 * The conformance suite's atomic-operation and lock part (called by describeStoreConformance,
 * so every store runs it): increment / append / merge computed by the store, refusals that
 * leave nothing behind, leases, and fences that refuse a stale holder.
 */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { AttributeTypeError, SessionNotFoundError, SessionTooLargeError, StaleFenceError } from '../../src/core/errors.js'
import type { AttributeChange, SessionDelta, SessionStore } from '../../src/core/store.js'
import { newId, sessionRecord } from './conformance.js'

function ops(changes: Array<[string, AttributeChange]>, extra: Partial<SessionDelta> = {}): SessionDelta {
  const now = Date.now()
  return { attributes: new Map(changes), lastAccessedAt: now, expiresAt: now + 60_000, ...extra }
}

const fields = (o: Record<string, unknown>): Array<[string, string]> => Object.entries(o).map(([k, v]) => [k, JSON.stringify(v)])

export function atomicConformance(store: () => SessionStore) {
  const created = async (attributes: Record<string, string> = {}) => {
    const s = sessionRecord({ attributes: new Map(Object.entries(attributes)) })
    await store().create(s)
    return s
  }
  const value = async (id: string, name: string) => (await store().load(id, Date.now()))?.attributes.get(name)

  it('increment: absent counts as 0, the new value comes back and is stored', async () => {
    const s = await created({ n: '41' })
    const a = await store().apply(s.id, ops([['n', { op: 'increment', by: 1 }], ['m', { op: 'increment', by: 2.5 }]]))
    assert.equal(a.values?.get('n'), '42')
    assert.equal(JSON.parse(a.values?.get('m') ?? 'null'), 2.5)
    assert.equal(JSON.parse((await value(s.id, 'n')) ?? 'null'), 42)
    const b = await store().apply(s.id, ops([['m', { op: 'increment', by: -0.5 }]]))
    assert.equal(JSON.parse(b.values?.get('m') ?? 'null'), 2)
  })

  it('concurrent increments all count (200 at once)', async () => {
    const s = await created()
    await Promise.all(Array.from({ length: 200 }, () => store().apply(s.id, ops([['hits', { op: 'increment', by: 1 }]]))))
    assert.equal(JSON.parse((await value(s.id, 'hits')) ?? 'null'), 200)
    assert.equal((await store().load(s.id, Date.now()))?.version, 201)
  })

  it('append: absent counts as [], elements keep their exact JSON', async () => {
    const s = await created({ empty: '[]' })
    const a = await store().apply(s.id, ops([['list', { op: 'append', value: '{"sku":"a","qty":1}' }]]))
    assert.deepEqual(JSON.parse(a.values?.get('list') ?? 'null'), [{ sku: 'a', qty: 1 }])
    await store().apply(s.id, ops([['list', { op: 'append', value: '[1,"]",{"x":"}"}]' }], ['empty', { op: 'append', value: '"x"' }]]))
    assert.deepEqual(JSON.parse((await value(s.id, 'list')) ?? 'null'), [{ sku: 'a', qty: 1 }, [1, ']', { x: '}' }]])
    assert.deepEqual(JSON.parse((await value(s.id, 'empty')) ?? 'null'), ['x'])
  })

  it('merge: sets top-level fields, keeps the others; __proto__ and odd keys are plain data', async () => {
    const s = await created({ prefs: JSON.stringify({ theme: 'dark', 'a"b': { deep: [1, 2] }, n: 0.1 }) })
    const r = await store().apply(s.id, ops([['prefs', { op: 'merge', fields: fields({ theme: 'light', lang: 'nl', '}': '{' }) }]]))
    const merged = JSON.parse(r.values?.get('prefs') ?? 'null') as Record<string, unknown>
    assert.deepEqual(merged, { theme: 'light', 'a"b': { deep: [1, 2] }, n: 0.1, lang: 'nl', '}': '{' })
    await store().apply(s.id, ops([['fresh', { op: 'merge', fields: [['__proto__', '{"admin":true}']] }]]))
    const fresh = JSON.parse((await value(s.id, 'fresh')) ?? 'null') as Record<string, unknown>
    assert.equal(Object.getPrototypeOf(fresh), Object.prototype)
    assert.equal(({} as Record<string, unknown>).admin, undefined)
    assert.deepEqual(Object.getOwnPropertyDescriptor(fresh, '__proto__')?.value, { admin: true })
  })

  it('an operation on a value of the wrong type refuses the whole delta and writes nothing', async () => {
    const s = await created({ name: '"alice"', list: '[1]', obj: '{}' })
    const before = await store().load(s.id, Date.now())
    for (const [attr, change, expected] of [
      ['name', { op: 'increment', by: 1 }, 'number'],
      ['obj', { op: 'append', value: '1' }, 'array'],
      ['list', { op: 'merge', fields: [['a', '1']] }, 'object'],
    ] as const) {
      await assert.rejects(
        store().apply(s.id, ops([['other', { op: 'set', value: '"written?"' }], [attr, change]])),
        (e: unknown) => e instanceof AttributeTypeError && e.attribute === attr && e.expected === expected,
      )
    }
    const after = await store().load(s.id, Date.now())
    assert.equal(after?.version, before?.version)
    assert.equal(after?.attributes.get('other'), undefined)
  })

  it('a result over maxValueBytes is refused and nothing is written', async () => {
    const s = await created({ list: JSON.stringify(['x'.repeat(90)]) })
    await assert.rejects(store().apply(s.id, ops([['list', { op: 'append', value: JSON.stringify('y'.repeat(20)) }]], { maxValueBytes: 100 })), SessionTooLargeError)
    assert.deepEqual(JSON.parse((await value(s.id, 'list')) ?? 'null'), ['x'.repeat(90)])
  })

  it('lock: one holder at a time, renewal by the holder only, release by the holder only', async () => {
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

  it('an expired lease can be taken by another owner, and the old holder cannot renew it', async () => {
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

  it('a save carrying an older fence than the latest lock is refused, even before the new holder wrote', async () => {
    const s = await created()
    const f1 = (await store().lock(s.id, 'a', 10_000, Date.now())) as number
    await store().apply(s.id, ops([['x', { op: 'set', value: '1' }]]), { fence: f1 })
    await store().unlock(s.id, 'a')
    const f2 = (await store().lock(s.id, 'b', 10_000, Date.now())) as number
    await assert.rejects(store().apply(s.id, ops([['x', { op: 'set', value: '"stale"' }]]), { fence: f1 }), StaleFenceError)
    await store().apply(s.id, ops([['x', { op: 'increment', by: 1 }]]), { fence: f2 })
    assert.equal(await value(s.id, 'x'), '2')
    const f3 = await store().raiseFence(s.id, Date.now())
    assert.equal(f3, f2 + 1)
    await assert.rejects(store().apply(s.id, ops([['x', { op: 'set', value: '0' }]]), { fence: f2 }), StaleFenceError)
    await assert.rejects(store().raiseFence(newId(), Date.now()), SessionNotFoundError)
  })
}
