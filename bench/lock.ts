// Lock acquire + release latency, uncontended, on one private redis-server: sessionmesh's
// store leases (`store.lock` + `store.unlock`, what `storeLocks` does per withLock), a whole
// `sessions.withLock(id, async () => {})`, and @sesamecare-oss/redlock (the maintained
// redlock fork, over ioredis 5) with one master. Interleaved rounds, rotating the order each
// round, so a drift of the machine hits every subject alike; per round p50/p99 of each pair,
// then the median and the spread over rounds. Round trips per pair are counted with MONITOR
// (commands clients sent; a script's internal calls, tagged `lua`, left out).
import { randomBytes } from 'node:crypto'
import { Redlock } from '@sesamecare-oss/redlock'
import { Redis } from 'ioredis'
import type * as Api from '../src/index.js'
import type * as RedisApi from '../src/stores/redis/index.js'
import { loadSessionmesh } from './lib/build.js'
import type { CustomScenario } from './lib/custom.js'
import { commandName, startRedis } from './lib/redis.js'
import { machine, type Machine } from './lib/report.js'

export interface LockBenchOptions {
  rounds: number
  pairs: number
  progress: (msg: string) => void
  /** The command line, recorded in the result. */
  command: string
  /** sessionmesh's tsc build (SESSIONMESH_ROOT); src/ when undefined. */
  root?: string | undefined
}

export interface Spread {
  median: number
  min: number
  max: number
}

export interface LockSubjectResult {
  name: string
  /** What one measured operation is. */
  what: string
  /** Per round, microseconds. */
  rounds: Array<{ p50: number; p99: number; mean: number }>
  p50: Spread
  p99: Spread
  /** Commands sent to Redis per measured operation (MONITOR, Lua-internal calls excluded). */
  roundTrips: number
  /** The commands of one operation, in order (names only). */
  commands: string[]
}

export interface LockBenchResult {
  date: string
  command: string
  machine: Machine
  redis: { version: string }
  /** What sessionmesh ran: its tsc build or src/ through tsx. */
  sessionmesh?: 'tsc build' | 'src via tsx'
  rounds: number
  pairs: number
  subjects: LockSubjectResult[]
}

interface Subject {
  name: string
  what: string
  /** One acquire + release. */
  pair(): Promise<void>
}

const WARMUP = 300
const COUNTED = 20

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i] as number
}

function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b)
  return { median: percentile(sorted, 50), min: sorted[0] ?? NaN, max: sorted[sorted.length - 1] ?? NaN }
}

export async function lockBench(options: LockBenchOptions): Promise<LockBenchResult> {
  const { rounds, pairs, progress } = options
  const machineAtStart = machine()
  const { createSessions } = await loadSessionmesh<typeof Api>('index.js', options.root)
  const { redisStore } = await loadSessionmesh<typeof RedisApi>('stores/redis/index.js', options.root)
  const redis = await startRedis()
  progress(`redis-server ${redis.version} on ${redis.port}`)
  const store = redisStore({ url: redis.url, prefix: 'bench:sm:' })
  const sessions = createSessions({ store, secret: randomBytes(32).toString('base64'), sweepInterval: false })
  const ioredis = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await ioredis.connect()
  // retryCount 0: one attempt, as sessionmesh's uncontended acquire; no automatic extension.
  const redlock = new Redlock([ioredis], { retryCount: 0 })
  try {
    // One session to lock; its id is what both sessionmesh subjects lock.
    const created = await sessions.open({ header: () => undefined, encrypted: false })
    created.session.set('n', 0)
    await created.commit()
    const id = created.session.id
    const owner = randomBytes(16).toString('base64url')

    const subjects: Subject[] = [
      {
        name: 'sessionmesh store.lock + store.unlock',
        what: 'storeLocks acquire + release: the lease and the fence in one script, then the release',
        async pair() {
          const fence = await store.lock(id, owner, 10_000, Date.now())
          if (fence === null) throw new Error('sessionmesh lock not granted (uncontended)')
          await store.unlock(id, owner)
        },
      },
      {
        name: 'sessionmesh sessions.withLock(id, noop)',
        what: 'load by id, lock, re-read under the lock, (nothing to save), unlock',
        async pair() {
          await sessions.withLock(id, async () => {}, { wait: 0 })
        },
      },
      {
        name: '@sesamecare-oss/redlock acquire + release',
        what: 'Redlock with one master (ioredis 5): acquire script, release script',
        async pair() {
          const lock = await redlock.acquire([`bench:redlock:${id}`], 10_000)
          await lock.release()
        },
      },
    ]

    for (const s of subjects) {
      for (let i = 0; i < WARMUP; i++) await s.pair()
    }
    progress(`warmed up (${WARMUP} pairs each)`)

    const perRound = new Map<string, Array<{ p50: number; p99: number; mean: number }>>(subjects.map((s) => [s.name, []]))
    for (let r = 0; r < rounds; r++) {
      // Rotate who goes first, so no subject always runs on a freshly idle (or busy) machine.
      const order = subjects.map((_, i) => subjects[(i + r) % subjects.length] as Subject)
      for (const s of order) {
        const samples = new Array<number>(pairs)
        for (let i = 0; i < pairs; i++) {
          const t0 = performance.now()
          await s.pair()
          samples[i] = (performance.now() - t0) * 1000
        }
        samples.sort((a, b) => a - b)
        const mean = samples.reduce((a, b) => a + b, 0) / samples.length
        perRound.get(s.name)?.push({ p50: percentile(samples, 50), p99: percentile(samples, 99), mean })
      }
      progress(`round ${r + 1}/${rounds} done`)
    }

    const results: LockSubjectResult[] = []
    for (const s of subjects) {
      const sent = await redis.commandsSentDuring(async () => {
        for (let i = 0; i < COUNTED; i++) await s.pair()
      })
      const names = sent.map(commandName)
      const one = names.slice(0, names.length / COUNTED)
      const list = perRound.get(s.name) ?? []
      results.push({
        name: s.name,
        what: s.what,
        rounds: list,
        p50: spread(list.map((x) => x.p50)),
        p99: spread(list.map((x) => x.p99)),
        roundTrips: names.length / COUNTED,
        commands: one,
      })
    }
    progress('round trips counted')
    return {
      date: new Date().toISOString(),
      command: options.command,
      sessionmesh: options.root ? 'tsc build' : 'src via tsx',
      machine: machineAtStart,
      redis: { version: redis.version },
      rounds,
      pairs,
      subjects: results,
    }
  } finally {
    await sessions.close()
    ioredis.disconnect()
    await redis.stop()
  }
}

const us = (n: number) => (Number.isFinite(n) ? `${Math.round(n)} µs` : '-')
const range = (s: Spread) => `${us(s.median)} (${Math.round(s.min)}–${Math.round(s.max)})`

/** A readable table: median over rounds of each round's p50 and p99 (min–max over rounds), round trips. */
export function formatLockBench(result: LockBenchResult): string {
  const rows = result.subjects.map((s) => [s.name, range(s.p50), range(s.p99), String(s.roundTrips), s.commands.join(', ')])
  const head = ['subject', 'p50 median (spread)', 'p99 median (spread)', 'round trips', 'commands per pair']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd()
  return [
    `Lock acquire + release, uncontended, one private redis-server ${result.redis.version}; ${result.rounds} interleaved rounds × ${result.pairs} pairs`,
    `${result.machine.cpuModel}, ${result.machine.cpus} CPUs, Node ${result.machine.node}`,
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ].join('\n')
}

/** The docs section: the same figures as a Markdown table. */
export function lockMarkdown(r: LockBenchResult): string {
  const m = r.machine
  return [
    `_Generated by \`${r.command}\` on ${r.date.slice(0, 10)}: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}, load average ${m.loadBefore} at start; one private redis-server ${r.redis.version} (loopback, no persistence)._`,
    '',
    `_Uncontended acquire + release of one lock, one at a time from one process, ${r.pairs.toLocaleString('en')} pairs per subject per round, ${r.rounds} interleaved rounds (the order rotates every round) after ${WARMUP} warm-up pairs each. Latency is per pair: each round's p50 and p99, then the median over the rounds and (in brackets) their min–max. Round trips are the commands the client sent per pair, counted with MONITOR over ${COUNTED} more pairs (a script's internal calls left out). sessionmesh ${r.sessionmesh === 'tsc build' ? 'from its tsc build' : 'from src/ through tsx'}._`,
    '',
    '| subject | what one pair is | p50 per pair (min – max over rounds) | p99 per pair (min – max) | round trips per pair | commands sent |',
    '|---|---|---:|---:|---:|---|',
    ...r.subjects.map(
      (s) =>
        `| ${s.name} | ${s.what} | ${Math.round(s.p50.median)} µs (${Math.round(s.p50.min)} – ${Math.round(s.p50.max)}) | ${Math.round(s.p99.median)} µs (${Math.round(s.p99.min)} – ${Math.round(s.p99.max)}) | ${s.roundTrips} | ${s.commands.join(', ')} |`,
    ),
  ].join('\n')
}

/** Lock pairs per subject per round. */
const PAIRS = 2000

/** `npm run bench -- lock`: --rounds interleaved rounds of 2,000 pairs per subject. */
export const lockScenario: CustomScenario<LockBenchResult> = {
  name: 'lock',
  summary: 'lock acquire + release latency on a private redis-server: store.lock/unlock and sessions.withLock vs @sesamecare-oss/redlock (--rounds rounds of 2,000 pairs)',
  run: (ctx) => {
    ctx.log(`\n[lock] store.lock + unlock, sessions.withLock, @sesamecare-oss/redlock: ${ctx.settings.rounds} rounds of ${PAIRS} pairs each`)
    return lockBench({ rounds: ctx.settings.rounds, pairs: PAIRS, command: ctx.command, root: ctx.sessionmeshEnv().SESSIONMESH_ROOT, progress: (msg) => ctx.log(`[lock] ${msg}`) })
  },
  text: (r) => `\n== lock: acquire + release ==\n${formatLockBench(r)}`,
  markdown: lockMarkdown,
}
