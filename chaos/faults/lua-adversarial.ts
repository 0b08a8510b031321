/**
 * lua-adversarial: every atomic operation (increment, append, merge) on adversarial values up
 * to `maxSize` (64 KiB): whitespace runs, deep nesting, thousands of fields, escape storms,
 * long digit runs, non-canonical stored text. On a private redis-server while a bystander
 * client (its own thread) PINGs it: a script that runs long makes every client of that Redis
 * wait. Verdicts: each result equals what src/core/ops.ts gives (the memory store) or, for
 * shapes JavaScript's JSON cannot take, the specified text; the bystander got every PONG.
 * Target: bystander p99 < 5 ms. Full: 5 rounds of every case; short: 1.
 */
import { isDeepStrictEqual } from 'node:util'
import { createClient } from 'redis'
import { startRedis } from '../../harness/redis.js'
import { AttributeTypeError, SessionTooLargeError } from '../../src/core/errors.js'
import type { AttributeChange, SessionStore } from '../../src/core/store.js'
import { memoryStore } from '../../src/stores/memory/index.js'
import { redisStore } from '../../src/stores/redis/index.js'
import { changesDelta, sessionRecord } from '../../src/testing/records.js'
import { bystander } from '../lib/bystander.js'
import { type Check, type Fault, int, target, verdict } from '../lib/types.js'

const MAX = 64 * 1024
const ws = (n: number) => ' '.repeat(n)
const j = (v: unknown) => JSON.stringify(v)
const fieldsOf = (o: Record<string, unknown>): Array<[string, string]> => Object.entries(o).map(([k, v]) => [k, j(v)])
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth)
const manyFields = (n: number, key: (i: number) => string) => {
  const o: Record<string, unknown> = {}
  for (let i = 0; i < n; i++) o[key(i)] = i
  return o
}

interface Case {
  name: string
  /** The stored attributes before the change. */
  stored: Record<string, string>
  change: [string, AttributeChange]
  /**
   * 'text': the same stored text as the memory store; 'parsed': the same value (stored text
   * that is not JSON.stringify's, which JavaScript re-serializes compactly); a string: this text.
   */
  expect: 'text' | 'parsed' | { text: string }
}

function cases(): Case[] {
  const run = ws(60_000) + 'x'
  const quotes = '"\\'.repeat(10_000)
  const controls = '\u0001'.repeat(10_000)
  return [
    { name: 'merge a 60 KB whitespace run', stored: { prefs: j({ theme: 'dark' }) }, change: ['prefs', { op: 'merge', fields: [['note', j(run)]] }], expect: 'text' },
    { name: 'merge into an object holding a 60 KB whitespace run', stored: { prefs: j({ note: run }) }, change: ['prefs', { op: 'merge', fields: fieldsOf({ theme: 'light' }) }], expect: 'text' },
    { name: 'append to a list holding a 60 KB whitespace run', stored: { list: j([run]) }, change: ['list', { op: 'append', value: '1' }], expect: 'text' },
    { name: 'append a 60 KB whitespace run', stored: {}, change: ['list', { op: 'append', value: j(run) }], expect: 'text' },
    { name: 'increment next to a 60 KB whitespace run', stored: { note: j(run), n: '1' }, change: ['n', { op: 'increment', by: 0.1 }], expect: 'text' },
    { name: 'append to stored text inside 60 KB of whitespace', stored: { list: `${ws(30_000)}[1, 2 ]${ws(30_000)}` }, change: ['list', { op: 'append', value: '3' }], expect: 'parsed' },
    { name: 'merge into stored text inside 60 KB of whitespace', stored: { obj: `${ws(30_000)}{ "a" : 1 }${ws(30_000)}` }, change: ['obj', { op: 'merge', fields: fieldsOf({ b: 2 }) }], expect: 'parsed' },
    { name: 'increment stored text inside 60 KB of whitespace', stored: { n: `${ws(30_000)}5${ws(30_000)}` }, change: ['n', { op: 'increment', by: 1 }], expect: 'parsed' },
    { name: 'append to an empty list with 60 KB of whitespace inside', stored: { list: `[${ws(60_000)}]` }, change: ['list', { op: 'append', value: '1' }], expect: 'parsed' },
    { name: 'append to a list nested 2,000 deep', stored: { list: nested(2_000) }, change: ['list', { op: 'append', value: '1' }], expect: 'text' },
    { name: 'merge next to a field nested 2,000 deep', stored: { obj: `{"deep":${nested(2_000)}}` }, change: ['obj', { op: 'merge', fields: fieldsOf({ b: 1 }) }], expect: 'text' },
    { name: 'merge a field nested 2,000 deep', stored: {}, change: ['obj', { op: 'merge', fields: [['deep', nested(2_000)]] }], expect: 'text' },
    // Deeper than JavaScript's JSON.parse goes: the Lua still scans it once.
    { name: 'append to a list nested 30,000 deep', stored: { list: nested(30_000) }, change: ['list', { op: 'append', value: '1' }], expect: { text: `${'['.repeat(30_000)}${']'.repeat(29_999)},1]` } },
    { name: 'merge one field into 5,000 fields', stored: { obj: j(manyFields(5_000, (i) => `f${i}`)) }, change: ['obj', { op: 'merge', fields: fieldsOf({ f1: 'x', g: 1 }) }], expect: 'text' },
    { name: 'merge 3,000 fields at once', stored: {}, change: ['obj', { op: 'merge', fields: fieldsOf(manyFields(3_000, (i) => `k${i}`)) }], expect: 'text' },
    { name: 'merge into 5,000 array-index keys (JavaScript orders them)', stored: { obj: j(manyFields(5_000, String)) }, change: ['obj', { op: 'merge', fields: fieldsOf({ 10: 'x', 5000: 1, '-1': 2, a: 3 }) }], expect: 'text' },
    { name: 'append to a list of 20,000 numbers', stored: { list: j(Array<number>(20_000).fill(7)) }, change: ['list', { op: 'append', value: '8' }], expect: 'text' },
    { name: 'merge a 40 KB escape storm', stored: { obj: j({ a: 1 }) }, change: ['obj', { op: 'merge', fields: [['q', j(quotes)]] }], expect: 'text' },
    { name: 'append to a list holding a 60 KB escape storm', stored: { list: j([controls]) }, change: ['list', { op: 'append', value: j(quotes.slice(0, 2_000)) }], expect: 'text' },
    { name: 'merge a key of 5,000 quotes', stored: { obj: j({ a: 1 }) }, change: ['obj', { op: 'merge', fields: [['"'.repeat(5_000), '1']] }], expect: 'text' },
    { name: 'increment a 60 KB digit run (underflows to 0)', stored: { n: `0.${'0'.repeat(60_000)}1` }, change: ['n', { op: 'increment', by: 1 }], expect: 'parsed' },
    { name: 'increment a 60 KB digit run (overflows: refused)', stored: { n: `1${'0'.repeat(60_000)}` }, change: ['n', { op: 'increment', by: 1 }], expect: 'text' },
    { name: 'increment to 1e21 and past', stored: { n: j(1e21 - 2 ** 17) }, change: ['n', { op: 'increment', by: 2 ** 17 }], expect: 'text' },
    { name: 'append past maxSize (refused)', stored: { list: j([run]) }, change: ['list', { op: 'append', value: j(ws(6_000)) }], expect: 'text' },
  ]
}

type Outcome = { text: string } | { error: string }

async function outcome(store: SessionStore, c: Case): Promise<Outcome> {
  const s = sessionRecord({ attributes: new Map(Object.entries(c.stored)) })
  await store.create(s)
  try {
    const r = await store.apply(s.id, changesDelta([c.change], { maxValueBytes: MAX, maxSessionBytes: MAX }))
    return { text: r.values?.get(c.change[0]) ?? '(no value)' }
  } catch (e) {
    if (e instanceof AttributeTypeError || e instanceof SessionTooLargeError) return { error: e.name }
    throw e
  }
}

function agrees(c: Case, got: Outcome, reference: Outcome | null): boolean {
  if (typeof c.expect === 'object') return 'text' in got && got.text === c.expect.text
  if (!reference) return false
  if ('error' in got || 'error' in reference) return isDeepStrictEqual(got, reference)
  return c.expect === 'text' ? got.text === reference.text : isDeepStrictEqual(JSON.parse(got.text), JSON.parse(reference.text))
}

export const luaAdversarial: Fault = {
  name: 'lua-adversarial',
  summary: 'Every atomic operation on adversarial values up to maxSize (whitespace runs, deep nesting, thousands of fields, escape storms) on a private Redis while a bystander PINGs it.',
  async run(ctx) {
    const rounds = ctx.short ? 1 : 5
    const redis = await startRedis(['--slowlog-log-slower-than', '0', '--slowlog-max-len', '100000'])
    const red = redisStore({ url: redis.url, prefix: 'adv:' })
    const mem = memoryStore()
    const admin = createClient({ url: redis.url })
    try {
      await admin.connect()
      const all = cases()
      // References first, so no JavaScript work overlaps the measured window.
      const reference = new Map<string, Outcome | null>()
      for (const c of all) reference.set(c.name, typeof c.expect === 'object' ? null : await outcome(mem, c))
      await outcome(red, all[0] as Case) // scripts loaded, connection made
      const pinger = await bystander(redis.port)
      const wrong: string[] = []
      // Per case: the longest its APPLY script ran inside Redis (SLOWLOG, every command logged).
      const slowest = new Map<string, number>()
      let scripts = 0
      for (let round = 0; round < rounds; round++) {
        for (const c of all) {
          await admin.sendCommand(['SLOWLOG', 'RESET'])
          const got = await outcome(red, c)
          const log = await admin.sendCommand<Array<[number, number, number, string[]]>>(['SLOWLOG', 'GET', '-1'])
          const us = log.filter((e) => /^EVAL/i.test(String(e[3][0]))).map((e) => Number(e[2]))
          scripts += us.length
          slowest.set(c.name, Math.max(slowest.get(c.name) ?? 0, ...us.map((u) => u / 1000)))
          if (!agrees(c, got, reference.get(c.name) ?? null) && round === 0) wrong.push(`${c.name}: ${JSON.stringify(got).slice(0, 120)}`)
        }
      }
      const pings = await pinger.stop()
      const [worstCase, slowestScriptMs] = [...slowest].sort((a, b) => b[1] - a[1])[0] ?? ['none', 0]
      ctx.log(`${all.length} cases × ${rounds}; bystander ${int(pings.pings)} PINGs, p99 ${pings.p99.toFixed(2)} ms; slowest script ${slowestScriptMs.toFixed(2)} ms`)
      const checks: Check[] = [
        verdict('every operation gives the result src/core/ops.ts gives (or the specified text)', wrong.length === 0, wrong.length ? wrong.join('; ') : `${all.length} cases`),
        verdict('the bystander got every PONG', pings.errors === 0 && pings.pings > 0, `${int(pings.pings)} PINGs, ${pings.errors} errors`),
        target('bystander PING p99 < 5 ms', pings.p99 < 5, `${pings.p99.toFixed(2)} ms (max ${pings.max.toFixed(2)} ms)`),
      ]
      return {
        checks,
        headline: `bystander PING p99 ${pings.p99.toFixed(2)} ms, slowest script ${slowestScriptMs.toFixed(2)} ms (Redis SLOWLOG) over ${all.length} adversarial cases; ${wrong.length} wrong results`,
        figures: {
          cases: all.length,
          rounds,
          bystander: pings,
          slowestScriptMs,
          scripts,
          slowestScriptMsByCase: Object.fromEntries([...slowest].map(([k, v]) => [k, Math.round(v * 100) / 100])),
          wrong,
        },
        table: [
          ['cases × rounds', `${all.length} × ${rounds} (values up to maxSize, 64 KiB)`],
          ['bystander PINGs / p50 / p99 / max', `${int(pings.pings)} / ${pings.p50.toFixed(2)} ms / ${pings.p99.toFixed(2)} ms / ${pings.max.toFixed(2)} ms`],
          ['slowest script inside Redis (SLOWLOG)', `${slowestScriptMs.toFixed(2)} ms (${worstCase})`],
          ['wrong results', String(wrong.length)],
        ],
      }
    } finally {
      await admin.quit().catch(() => {})
      await red.close()
      await mem.close()
      await redis.stop()
    }
  },
}
