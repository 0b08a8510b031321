// The Redis store's Lua atomic operations against src/core/ops.ts (what the memory and SQLite
// stores run): for generated JSON values and operations both stores must leave the same
// stored text, answer the same values and refuse the same deltas. On a private redis-server.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { AttributeTypeError, SessionTooLargeError } from '../../src/index.js'
import type { AttributeChange, SessionStore } from '../../src/index.js'
import { memoryStore } from '../../src/stores/memory/index.js'
import { redisStore } from '../../src/stores/redis/index.js'
import { startRedis, type RedisProcess } from '../../harness/redis.js'
import { changesDelta, sessionRecord } from '../../src/testing/index.js'

let redis: RedisProcess
let red: ReturnType<typeof redisStore>
const mem = memoryStore()

before(async () => {
  redis = await startRedis()
  red = redisStore({ url: redis.url, prefix: 'lua:' })
})
after(async () => {
  await red?.close()
  await redis?.stop()
})

type Outcome = { ok: true; values: Array<[string, string]>; stored: Array<[string, string]> } | { ok: false; error: string }

/** Applies `changes` to session `id` in `store`; what it answered and what it then holds. */
async function outcome(store: SessionStore, id: string, changes: Array<[string, AttributeChange]>): Promise<Outcome> {
  try {
    const r = await store.apply(id, changesDelta(changes))
    const s = await store.load(id, Date.now())
    assert.ok(s)
    return { ok: true, values: [...(r.values ?? [])].sort(), stored: [...s.attributes].sort() }
  } catch (e) {
    if (e instanceof AttributeTypeError || e instanceof SessionTooLargeError) return { ok: false, error: `${e.name} ${e.message}` }
    throw e
  }
}

/** Both stores get the same session and the same deltas, one after another; every outcome must match. */
async function same(initial: Map<string, string>, deltas: Array<Array<[string, AttributeChange]>>): Promise<void> {
  const record = sessionRecord({ attributes: initial })
  await mem.create(record)
  await red.create(record)
  for (const changes of deltas) assert.deepEqual(await outcome(red, record.id, changes), await outcome(mem, record.id, changes))
}

// Text a value's JSON could hold that the Lua scans byte by byte: whitespace, quotes,
// escapes, brackets, separators, line separators, non-ASCII.
const tricky = fc.string({ unit: fc.constantFrom(' ', '  ', '\t', '\n', '\r', '\v', '\f', '"', '\\', '{', '}', '[', ']', ',', ':', 'a', 'é', '\u2028', '\u0000', '😀'), maxLength: 40 })
// Keys JavaScript orders specially (array indexes, numerically, first) or that look like syntax.
const key = fc.oneof(
  fc.string({ maxLength: 8 }),
  tricky,
  fc.nat({ max: 4294967296 }).map(String),
  fc.constantFrom('__proto__', 'constructor', '0', '1', '2', '10', '01', '-1', '1.5', '4294967294', '4294967295', '', ' ', '"', '\\', '}'),
)
const finite = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -1e6, max: 1e6 }),
  fc.constantFrom(0.1, 0.2, 0.3, -0.1, 1e21, 1e-7, 1.5e-7, 1e-6, 123e18, 2 ** 53, 2 ** 53 + 2, Number.MAX_VALUE, Number.MIN_VALUE, 2 ** -1017, -0),
)
const json: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, true, false),
    finite,
    tricky,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.array(fc.tuple(key, tie('value')), { maxLength: 4 }).map((entries) => {
      const o: Record<string, unknown> = {}
      for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true })
      return o
    }),
  ),
})).value
const text = (v: unknown) => JSON.stringify(v)
const change: fc.Arbitrary<AttributeChange> = fc.oneof(
  finite.map((by) => ({ op: 'increment' as const, by })),
  json.map((v) => ({ op: 'append' as const, value: text(v) })),
  fc.array(fc.tuple(key, json.map(text)), { maxLength: 5 }).map((fields) => ({ op: 'merge' as const, fields })),
)
const start = fc.oneof(json, finite, fc.array(json, { maxLength: 4 }), fc.dictionary(key, json, { maxKeys: 5 }))

describe('Lua atomic operations give the same stored text as src/core/ops.ts', () => {
  it('for generated values and operations (increment, append, merge), one attribute or several', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.option(start, { nil: undefined }),
        fc.array(fc.array(fc.tuple(fc.constantFrom('v', 'w'), change), { minLength: 1, maxLength: 2 }), { minLength: 1, maxLength: 5 }),
        async (initial, deltas) => {
          const attrs = new Map<string, string>()
          if (initial !== undefined) attrs.set('v', text(initial))
          // One change per name in a delta, as a Map of changes has it.
          await same(attrs, deltas.map((d) => [...new Map(d)]))
        },
      ),
      { numRuns: 400 },
    )
  })

  it('increment writes JavaScript number text: shortest round trip, 1e21 and 1e-7 as JSON.stringify writes them', async () => {
    const wanted = [0.1, 0.1 + 0.2, 1e21, 1e-7, 1.5e-7, 1e-6, 123e18, 1e16, 2 ** 53, -(2 ** 60), 5e-324, Number.MAX_VALUE, -1e-300, 100, 1234.5]
    // Every power of two as well: just above one, the nearest decimal of the shortest length
    // can miss while its neighbour reads back (V8 writes the neighbour).
    for (let k = -1074; k <= 1023; k++) wanted.push(2 ** k)
    const s = sessionRecord({ attributes: new Map() })
    await red.create(s)
    const r = await red.apply(s.id, changesDelta(wanted.map((by, i) => [`n${i}`, { op: 'increment', by }])))
    const mismatches = wanted.filter((by, i) => r.values?.get(`n${i}`) !== JSON.stringify(by)).map((by) => `${JSON.stringify(by)}`)
    assert.deepEqual(mismatches, [])
    // 0.1 + 0.2 added in the store, not here: the store's sum's text.
    const t = sessionRecord({ attributes: new Map([['n', '0.1']]) })
    await red.create(t)
    assert.equal((await red.apply(t.id, changesDelta([['n', { op: 'increment', by: 0.2 }]]))).values?.get('n'), '0.30000000000000004')
    assert.equal((await red.apply(t.id, changesDelta([['n', { op: 'increment', by: -0.30000000000000004 }]]))).values?.get('n'), '0')
  })

  it('a 60 KB whitespace run, merged into an object and then appended to a list holding it, gives the same text', async () => {
    const run = ' '.repeat(60_000) + 'x'
    const attrs = new Map([
      ['prefs', text({ theme: 'dark' })],
      ['list', text([{ note: run }])],
    ])
    await same(attrs, [
      [['prefs', { op: 'merge', fields: [['note', text(run)], ['tabs', text('\t'.repeat(2_000))]] }]],
      [['prefs', { op: 'merge', fields: [['theme', text('light')]] }]],
      [['list', { op: 'append', value: text(run) }]],
      [['list', { op: 'append', value: text({ more: run.slice(30_000) }) }]],
    ])
  })
})
