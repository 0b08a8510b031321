// `npm run bench -- invalidation`: how soon after a save on instance A instance B learns of it,
// by both paths B listens on, measured on the same saves. Two `createSessions` instances (in
// this process, each with its own Redis connections) share a private redis-server as store and
// Redis Stream bus, both with the near cache on. For every save on A two clocks start when A's
// `save()` resolves (its reply received) and stop when B:
//  - store change feed: B's Redis store reports the change through `watch` (the PUBLISH its
//    write script makes atomically with the write). That is what drops B's near-cache entry;
//    the bench observes it with a listener of its own on B's store, the same mechanism the near
//    cache uses (a `watch` opens its own subscriber connection). Matched on the session id and
//    the version the save produced.
//  - bus: B's `updated` event with origin A arrives over the Redis Stream bus (the path that
//    invalidated the near cache before the store feed existed; it still does too).
// Both listeners are armed before the save and record their own arrival time, so a delivery that
// beats the save's reply gives a negative figure: kept, as that is what happened.
import type * as Api from '../src/index.js'
import type * as RedisApi from '../src/stores/redis/index.js'
import { loadSessionmesh } from './lib/build.js'
import type { CustomScenario } from './lib/custom.js'
import { startRedis } from './lib/redis.js'
import { machine, type Machine } from './lib/report.js'

const SAVES = 1_000
/** A delivery not seen within this is a failure, not a sample. */
const HEARD_TIMEOUT_MS = 5_000

interface PathFigures {
  p50Ms: number
  p99Ms: number
  minMs: number
  maxMs: number
  /** Samples below zero: delivered to B before A's save reply was. */
  early: number
}

export interface InvalidationResult {
  scenario: 'invalidation'
  date: string
  command: string
  machine: Machine
  redis: string
  /** Per round: the store change feed's figures, and the bus's under `bus`. */
  rounds: Array<PathFigures & { samples: number; bus: PathFigures }>
  /** Store change feed (what invalidates the near cache): median of the rounds' p50 / p99. */
  p50Ms: number
  p99Ms: number
  /** The targets apply to the store change feed. */
  targets: { p50Ms: number; p99Ms: number }
  /** Redis Stream bus (`updated` event): median of the rounds' p50 / p99; no target. */
  bus: { p50Ms: number; p99Ms: number }
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
const median = (xs: number[]) => pct([...xs].sort((a, b) => a - b), 50)
const fmt = (ms: number) => ms.toFixed(3)

function figures(samples: number[]): PathFigures {
  const s = [...samples].sort((x, y) => x - y)
  return {
    p50Ms: pct(s, 50),
    p99Ms: pct(s, 99),
    minMs: s[0] ?? Number.NaN,
    maxMs: s[s.length - 1] ?? Number.NaN,
    early: s.filter((x) => x < 0).length,
  }
}

function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`[invalidation] ${what} not heard within ${HEARD_TIMEOUT_MS} ms`)), HEARD_TIMEOUT_MS)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

async function run(rounds: number, command: string, root: string | undefined, log: (s: string) => void): Promise<InvalidationResult> {
  const api = await loadSessionmesh<typeof Api>('index.js', root)
  const redisApi = await loadSessionmesh<typeof RedisApi>('stores/redis/index.js', root)
  const { redisStore } = redisApi
  // Older builds (an A/B run's baseline) export the bus from the root entry; newer ones from sessionmesh/redis.
  const redisStreamBus = redisApi.redisStreamBus ?? (api as unknown as typeof RedisApi).redisStreamBus
  const redis = await startRedis()
  const make = (name: string, store: ReturnType<typeof redisStore>) =>
    api.createSessions({
      store,
      bus: { bus: redisStreamBus({ redis: { url: redis.url } }), instanceId: name },
      nearCache: true,
      secret: 'bench-secret-bench-secret-bench-secret-0123',
      sweepInterval: false,
    })
  const bStore = redisStore({ url: redis.url })
  if (typeof (bStore as { watch?: unknown }).watch !== 'function') {
    await bStore.close()
    await redis.stop()
    throw new Error('[invalidation] this Redis store has no change feed (watch)')
  }
  const a = make('A', redisStore({ url: redis.url }))
  const b = make('B', bStore)

  // B's store change feed, as the near cache hears it: the first arrival time of each version
  // of the watched session since the current save was armed, and whoever waits for one.
  let watched: string | null = null
  let feedUp = false
  const feedHeard = new Map<number, number>()
  let feedWaiter: { version: number; resolve: (t: number) => void } | null = null
  const feed = bStore.watch({
    changed(id, version) {
      const t = performance.now()
      if (id !== watched || version === null) return
      if (!feedHeard.has(version)) feedHeard.set(version, t)
      if (feedWaiter?.version === version) {
        feedWaiter.resolve(t)
        feedWaiter = null
      }
    },
    status(connected) {
      feedUp = connected
    },
  })

  const out: InvalidationResult['rounds'] = []
  try {
    // Both near caches on (each needs its bus and its store feed delivering), and our own watch subscribed.
    while (!(a.nearCacheStats()?.enabled && b.nearCacheStats()?.enabled && feedUp)) await new Promise((r) => setTimeout(r, 10))
    // One session, made on A; its id is what B hears about.
    const first = await a.open({ header: () => undefined, encrypted: false })
    first.session.set('n', 0)
    await first.commit()
    const id = first.session.id
    watched = id
    for (let round = 0; round < rounds; round++) {
      const feedSamples: number[] = []
      const busSamples: number[] = []
      for (let i = 0; i < SAVES; i++) {
        const writer = await a.get(id)
        if (!writer) throw new Error('the session vanished')
        writer.set('n', i)
        // Armed before the save: either delivery may come before the save's reply.
        feedHeard.clear()
        const busHeard = new Promise<number>((resolve) => {
          const on = (e: { id: string; origin?: string }) => {
            if (e.id === id && e.origin === 'A') {
              b.events.off('updated', on)
              resolve(performance.now())
            }
          }
          b.events.on('updated', on)
        })
        await writer.save()
        const saved = performance.now()
        const version = writer.version
        const feedAt =
          feedHeard.get(version) ??
          (await within(
            new Promise<number>((resolve) => {
              feedWaiter = { version, resolve }
            }),
            `store feed for version ${version}`,
          ))
        feedWaiter = null
        if (!feedUp) throw new Error('[invalidation] the store feed went down during the run')
        feedSamples.push(feedAt - saved)
        busSamples.push((await within(busHeard, `bus updated event for version ${version}`)) - saved)
      }
      const r = { ...figures(feedSamples), samples: feedSamples.length, bus: figures(busSamples) }
      out.push(r)
      log(
        `[invalidation] round ${round + 1}/${rounds} over ${SAVES} saves: store feed p50 ${fmt(r.p50Ms)} ms, p99 ${fmt(r.p99Ms)} ms, max ${fmt(r.maxMs)} ms (${r.early} before the reply); ` +
          `bus p50 ${fmt(r.bus.p50Ms)} ms, p99 ${fmt(r.bus.p99Ms)} ms, max ${fmt(r.bus.maxMs)} ms (${r.bus.early} before the reply)`,
      )
    }
  } finally {
    await feed.close()
    await Promise.all([a.close(), b.close()])
    await redis.stop()
  }
  return {
    scenario: 'invalidation',
    date: new Date().toISOString(),
    command,
    machine: machine(),
    redis: `one private redis-server ${redis.version} on loopback: store (its change feed on pub/sub) and Redis Stream bus`,
    rounds: out,
    p50Ms: median(out.map((r) => r.p50Ms)),
    p99Ms: median(out.map((r) => r.p99Ms)),
    targets: { p50Ms: 1, p99Ms: 5 },
    bus: { p50Ms: median(out.map((r) => r.bus.p50Ms)), p99Ms: median(out.map((r) => r.bus.p99Ms)) },
  }
}

function markdown(r: InvalidationResult): string {
  const m = r.machine
  const met = (value: number, target: number) => (value < target ? 'yes' : '**no**')
  return [
    `_Generated by \`${r.command}\` on ${r.date.slice(0, 10)}: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}, load average ${m.loadBefore} at start. ${r.redis}._`,
    '',
    'From a save acknowledged on instance A (its `save()` resolved) to instance B hearing of it, on the same saves by both paths B listens on: ' +
      "**store feed**, B's Redis store reporting the change through `watch` (the PUBLISH made by the write script; this is what drops B's near-cache entry), " +
      "and **bus**, B's `updated` event with origin A over the Redis Stream bus. One session, saves one after another. " +
      "Both listeners are armed before the save; a message delivered to B before A received the save's reply gives a negative figure, kept as measured (\"early\" counts them).",
    '',
    '| round | store feed p50 | p99 | max | early | bus p50 | p99 | max | early | saves |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...r.rounds.map(
      (x, i) =>
        `| ${i + 1} | ${fmt(x.p50Ms)} ms | ${fmt(x.p99Ms)} ms | ${fmt(x.maxMs)} ms | ${x.early} | ${fmt(x.bus.p50Ms)} ms | ${fmt(x.bus.p99Ms)} ms | ${fmt(x.bus.maxMs)} ms | ${x.bus.early} | ${x.samples} |`,
    ),
    '',
    `| | median of rounds | target | met |`,
    '|---|---:|---:|---|',
    `| store feed p50 | **${fmt(r.p50Ms)} ms** | < ${r.targets.p50Ms} ms | ${met(r.p50Ms, r.targets.p50Ms)} |`,
    `| store feed p99 | **${fmt(r.p99Ms)} ms** | < ${r.targets.p99Ms} ms | ${met(r.p99Ms, r.targets.p99Ms)} |`,
    `| bus p50 / p99 | ${fmt(r.bus.p50Ms)} / ${fmt(r.bus.p99Ms)} ms | — | — |`,
  ].join('\n')
}

export const invalidationScenario: CustomScenario<InvalidationResult> = {
  name: 'invalidation',
  summary: `near-cache invalidation latency, save acknowledged on A -> B hears of it, by the Redis store change feed (targets) and the Redis Stream bus (--rounds rounds of ${SAVES} saves)`,
  run: (ctx) => run(ctx.settings.rounds, ctx.command, ctx.sessionmeshEnv().SESSIONMESH_ROOT, ctx.log),
  text: (r) =>
    `\n== invalidation latency (save acknowledged on A -> B hears of it; median of ${r.rounds.length} rounds) ==\n` +
    `store feed: p50 ${fmt(r.p50Ms)} ms (target < ${r.targets.p50Ms}), p99 ${fmt(r.p99Ms)} ms (target < ${r.targets.p99Ms})\n` +
    `bus:        p50 ${fmt(r.bus.p50Ms)} ms, p99 ${fmt(r.bus.p99Ms)} ms (no target)`,
  markdown,
}
