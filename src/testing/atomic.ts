import assert from 'node:assert/strict'
import { AttributeTypeError, SessionTooLargeError } from '../core/errors.js'
import type { CompleteStore } from '../core/fallbacks.js'
import { changesDelta, sessionRecord } from './records.js'
import type { TestRunner } from './runner.js'

const fields = (o: Record<string, unknown>): Array<[string, string]> => Object.entries(o).map(([k, v]) => [k, JSON.stringify(v)])

/**
 * Atomic changes and `count`, on the store as the core uses it: the store's own when it has
 * them (`atomic: true`, `count`), else the core's compare-and-set and scanning fallbacks.
 */
export function atomicConformance(t: TestRunner, store: () => CompleteStore): void {
  const created = async (attributes: Record<string, string> = {}) => {
    const s = sessionRecord({ attributes: new Map(Object.entries(attributes)) })
    await store().create(s)
    return s
  }
  const value = async (id: string, name: string) => (await store().load(id, Date.now()))?.attributes.get(name)

  t.it('increment: absent counts as 0, the new value comes back and is stored', async () => {
    const s = await created({ n: '41' })
    const a = await store().apply(s.id, changesDelta([['n', { op: 'increment', by: 1 }], ['m', { op: 'increment', by: 2.5 }]]))
    assert.equal(a.values?.get('n'), '42')
    assert.equal(JSON.parse(a.values?.get('m') ?? 'null'), 2.5)
    assert.equal(JSON.parse((await value(s.id, 'n')) ?? 'null'), 42)
    const b = await store().apply(s.id, changesDelta([['m', { op: 'increment', by: -0.5 }]]))
    assert.equal(JSON.parse(b.values?.get('m') ?? 'null'), 2)
  })

  t.it('concurrent increments all count (200 at once)', async () => {
    const s = await created()
    await Promise.all(Array.from({ length: 200 }, () => store().apply(s.id, changesDelta([['hits', { op: 'increment', by: 1 }]]))))
    assert.equal(JSON.parse((await value(s.id, 'hits')) ?? 'null'), 200)
    assert.equal((await store().load(s.id, Date.now()))?.version, 201)
  })

  t.it('append: absent counts as [], elements keep their exact JSON', async () => {
    const s = await created({ empty: '[]' })
    const a = await store().apply(s.id, changesDelta([['list', { op: 'append', value: '{"sku":"a","qty":1}' }]]))
    assert.deepEqual(JSON.parse(a.values?.get('list') ?? 'null'), [{ sku: 'a', qty: 1 }])
    await store().apply(s.id, changesDelta([['list', { op: 'append', value: '[1,"]",{"x":"}"}]' }], ['empty', { op: 'append', value: '"x"' }]]))
    assert.deepEqual(JSON.parse((await value(s.id, 'list')) ?? 'null'), [{ sku: 'a', qty: 1 }, [1, ']', { x: '}' }]])
    assert.deepEqual(JSON.parse((await value(s.id, 'empty')) ?? 'null'), ['x'])
  })

  t.it('merge: sets top-level fields, keeps the others; __proto__ and odd keys are plain data', async () => {
    const s = await created({ prefs: JSON.stringify({ theme: 'dark', 'a"b': { deep: [1, 2] }, n: 0.1 }) })
    const r = await store().apply(s.id, changesDelta([['prefs', { op: 'merge', fields: fields({ theme: 'light', lang: 'nl', '}': '{' }) }]]))
    const merged = JSON.parse(r.values?.get('prefs') ?? 'null') as Record<string, unknown>
    assert.deepEqual(merged, { theme: 'light', 'a"b': { deep: [1, 2] }, n: 0.1, lang: 'nl', '}': '{' })
    await store().apply(s.id, changesDelta([['fresh', { op: 'merge', fields: [['__proto__', '{"admin":true}']] }]]))
    const fresh = JSON.parse((await value(s.id, 'fresh')) ?? 'null') as Record<string, unknown>
    assert.equal(Object.getPrototypeOf(fresh), Object.prototype)
    assert.equal(({} as Record<string, unknown>).admin, undefined)
    assert.deepEqual(Object.getOwnPropertyDescriptor(fresh, '__proto__')?.value, { admin: true })
  })

  t.it('an operation on a value of the wrong type refuses the whole delta and writes nothing', async () => {
    const s = await created({ name: '"alice"', list: '[1]', obj: '{}' })
    const before = await store().load(s.id, Date.now())
    for (const [attr, change, expected] of [
      ['name', { op: 'increment', by: 1 }, 'number'],
      ['obj', { op: 'append', value: '1' }, 'array'],
      ['list', { op: 'merge', fields: [['a', '1']] }, 'object'],
    ] as const) {
      await assert.rejects(
        store().apply(s.id, changesDelta([['other', { op: 'set', value: '"written?"' }], [attr, change]])),
        (e: unknown) => e instanceof AttributeTypeError && e.attribute === attr && e.expected === expected,
      )
    }
    const after = await store().load(s.id, Date.now())
    assert.equal(after?.version, before?.version)
    assert.equal(after?.attributes.get('other'), undefined)
  })

  t.it('a result over maxValueBytes is refused and nothing is written', async () => {
    const s = await created({ list: JSON.stringify(['x'.repeat(90)]) })
    await assert.rejects(store().apply(s.id, changesDelta([['list', { op: 'append', value: JSON.stringify('y'.repeat(20)) }]], { maxValueBytes: 100 })), SessionTooLargeError)
    assert.deepEqual(JSON.parse((await value(s.id, 'list')) ?? 'null'), ['x'.repeat(90)])
  })

  t.it('counts live sessions', async () => {
    const now = Date.now()
    const before = await store().count(now)
    await store().create(sessionRecord())
    await store().create(sessionRecord())
    assert.equal(await store().count(now), before + 2)
  })
}
