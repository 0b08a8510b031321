/**
 * replicated-no-replica: an app with `durability: 'replicated'` (WAIT 1 replica, 1 s) on a
 * redis-server that has no replica, so every save's WAIT runs out. Readers time a read-only
 * request alone (the baseline), then again while writers keep WAITs pending. A second app
 * (async durability, same prefix) makes the sessions, as a replicated create would wait too.
 * Verdicts: no crash, every request answered (none hangs), every read served, every write
 * refused as NOT_REPLICATED. Target: the read's p99 under the WAITs within 2× its baseline.
 */
import { startRedis } from '../../harness/redis.js'
import { spawnApp } from '../lib/app.js'
import { type Answer, HttpClient, NO_ANSWER, User } from '../lib/http.js'
import { type Check, type Fault, int, ms, sleep, target, verdict } from '../lib/types.js'

const WAIT_MS = 1_000

/** The q-quantile (0..1) of `values`, nearest rank; NaN for none. */
function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN
}

interface Sample {
  started: number
  ms: number
  status: number
  code: string
}

/** `users` loops of one request at a time until stopped, each with its own session. */
function loops(users: User[], request: (u: User) => Promise<Answer>) {
  const samples: Sample[] = []
  let stop = false
  const running = users.map(async (u) => {
    while (!stop) {
      const started = Date.now()
      const a = await request(u)
      samples.push({ started, ms: a.ms, status: a.status, code: typeof a.body.code === 'string' ? a.body.code : a.status === NO_ANSWER ? a.text.slice(0, 80) : '' })
      if (a.status !== 200 && a.status !== 503) await sleep(20)
    }
  })
  return {
    samples,
    async stop() {
      stop = true
      await Promise.all(running)
    },
  }
}

export const replicatedNoReplica: Fault = {
  name: 'replicated-no-replica',
  summary: "durability 'replicated' on a Redis with no replica (every WAIT runs out, 1 s); a read-only request is timed alone, then beside the pending WAITs.",
  async run(ctx) {
    const baselineMs = ctx.short ? 2_000 : 10_000
    const underMs = ctx.short ? 3_000 : 15_000
    const readers = 4
    const writers = 8
    const redis = await startRedis()
    const prefix = 'noreplica:'
    const seed = await spawnApp('server.ts', { STORE: `redis:${redis.url}`, PREFIX: prefix })
    const app = await spawnApp('server.ts', { STORE: `redis:${redis.url}`, PREFIX: prefix, DURABILITY: 'replicated', WAIT_MS: String(WAIT_MS) })
    const readHttp = new HttpClient(app.url, readers * 2)
    const writeHttp = new HttpClient(app.url, writers * 2)
    const seedHttp = new HttpClient(seed.url, 4)
    const timeoutMs = 10 * WAIT_MS
    let baseline: ReturnType<typeof loops> | undefined
    let under: ReturnType<typeof loops> | undefined
    let writes: ReturnType<typeof loops> | undefined
    try {
      // Sessions for everyone, made through the async app; the users then talk to the replicated one.
      const make = async (http: HttpClient, i: number) => {
        const maker = new User(seedHttp)
        const a = await maker.post(`/set?k=a&v=${i}`, { timeoutMs })
        if (a.status !== 200 || !maker.cookie) throw new Error(`could not make a session: ${a.status} ${a.text.slice(0, 200)}`)
        const u = new User(http)
        u.cookie = maker.cookie
        return u
      }
      const readUsers = await Promise.all(Array.from({ length: readers }, (_, i) => make(readHttp, i)))
      const writeUsers = await Promise.all(Array.from({ length: writers }, (_, i) => make(writeHttp, readers + i)))
      const read = (u: User) => u.get('/get?k=a', { timeoutMs })
      baseline = loops(readUsers, read)
      await sleep(baselineMs)
      await baseline.stop()
      ctx.log(`baseline: ${int(baseline.samples.length)} reads alone; now ${writers} writers whose WAITs run out after ${ms(WAIT_MS)}`)
      let seq = 0
      writes = loops(writeUsers, (u) => u.post(`/set?k=w${++seq}&v=${seq}`, { timeoutMs }))
      // The readers start once the first WAITs are pending.
      await sleep(200)
      under = loops(readUsers, read)
      await sleep(underMs)
      await Promise.all([under.stop(), writes.stop()])
    } finally {
      await Promise.all([baseline?.stop(), under?.stop(), writes?.stop()])
      readHttp.close()
      writeHttp.close()
      seedHttp.close()
    }
    const crashed = app.crashed() || seed.crashed()
    const stderr = app.stderr() + seed.stderr()
    await app.stop()
    await seed.stop()
    await redis.stop()

    const base = baseline.samples
    const beside = under?.samples ?? []
    const wrote = writes?.samples ?? []
    const everything = [...base, ...beside, ...wrote]
    const unanswered = everything.filter((s) => s.status === NO_ANSWER)
    const badReads = [...base, ...beside].filter((s) => s.status !== 200)
    const badWrites = wrote.filter((s) => s.status !== 503 || s.code !== 'NOT_REPLICATED')
    const p = (xs: Sample[], q: number) => quantile(xs.map((s) => s.ms), q)
    const baseP99 = p(base, 0.99)
    const underP99 = p(beside, 0.99)
    const slowestWrite = Math.max(0, ...wrote.map((s) => s.ms))
    const checks: Check[] = [
      verdict('no app process crash', !crashed, crashed ? stderr.slice(-500) : ''),
      verdict('every request answered (none hangs)', unanswered.length === 0, `${unanswered.length} without an answer${unanswered[0] ? `: ${unanswered[0].code}` : ''}`),
      verdict('every read served (200) beside the pending WAITs', badReads.length === 0 && beside.length > 0, `${int(beside.length)} reads beside, ${badReads.length} not 200`),
      verdict('every write refused as NOT_REPLICATED (503), none acknowledged', badWrites.length === 0 && wrote.length > 0, `${int(wrote.length)} writes, ${badWrites.length} other answers`),
      target("the read's p99 beside the WAITs within 2× its baseline", underP99 <= 2 * baseP99, `baseline ${ms(baseP99)}, beside the WAITs ${ms(underP99)}`),
    ]
    return {
      checks,
      headline: `read p99 ${ms(underP99)} beside timing-out WAITs (baseline ${ms(baseP99)}); ${int(wrote.length)} writes refused NOT_REPLICATED; ${unanswered.length} unanswered`,
      figures: {
        waitMs: WAIT_MS,
        readers,
        writers,
        baseline: { reads: base.length, p50: p(base, 0.5), p99: baseP99, max: p(base, 1) },
        beside: { reads: beside.length, p50: p(beside, 0.5), p99: underP99, max: p(beside, 1) },
        writes: { count: wrote.length, p50: p(wrote, 0.5), max: slowestWrite },
        crashed,
      },
      table: [
        ['WAIT timeout, readers, writers', `${ms(WAIT_MS)}, ${readers}, ${writers}`],
        ['read alone: count / p50 / p99 / max', `${int(base.length)} / ${ms(p(base, 0.5))} / ${ms(baseP99)} / ${ms(p(base, 1))}`],
        ['read beside the WAITs: count / p50 / p99 / max', `${int(beside.length)} / ${ms(p(beside, 0.5))} / ${ms(underP99)} / ${ms(p(beside, 1))}`],
        ['writes (all NOT_REPLICATED): count / p50 / max', `${int(wrote.length)} / ${ms(p(wrote, 0.5))} / ${ms(slowestWrite)}`],
      ],
    }
  },
}
