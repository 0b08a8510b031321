/**
 * soak: mixed traffic (logins, reads, writes, atomic increments, logouts, new visitors) for
 * 10 minutes (short: 20 s) against the app on redisStore and on sqliteStore at once, each in
 * a child process started with --expose-gc. Samples the heap after forced GC over time and
 * compares open handles, active resources (timers, sockets…) and Redis' connected_clients
 * before and after, each taken with the load's sockets closed.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cli, startRedis } from '../../harness/redis.js'
import { spawnApp, type AppProcess } from '../lib/app.js'
import { HttpClient, User } from '../lib/http.js'
import { type Check, type Fault, type FaultContext, int, sleep, target, verdict } from '../lib/types.js'

interface Stats {
  heapUsed: number
  rss: number
  gc: boolean
  handles: number
  resources: Record<string, number>
  errorEvents: number
  internalErrors: number
  expired: number
  created: number
  destroyed: number
}

async function stats(app: AppProcess): Promise<Stats> {
  const c = new HttpClient(app.url, 1)
  try {
    const a = await c.send('/__stats', { headers: { connection: 'close' } })
    if (a.status !== 200) throw new Error(`/__stats answered ${a.status}`)
    return a.body as unknown as Stats
  } finally {
    c.close()
  }
}

/** Stats once the app has settled: two samples in a row with the same handle and resource counts. */
async function settledStats(app: AppProcess): Promise<Stats> {
  let prev = await stats(app)
  for (let i = 0; i < 40; i++) {
    await sleep(150)
    const s = await stats(app)
    if (s.handles === prev.handles && JSON.stringify(s.resources) === JSON.stringify(prev.resources)) return s
    prev = s
  }
  return prev
}

const redisClients = async (port: number) => Number(/connected_clients:(\d+)/.exec(await cli(port, 'INFO', 'clients'))?.[1] ?? NaN) - 1 // minus redis-cli itself

/** One user's mixed traffic until `until()`; counts answers by status. */
async function visitor(http: HttpClient, until: () => boolean, counts: Map<number, number>, pauseMs: number, seed: number): Promise<void> {
  let u = new User(http)
  let i = seed
  while (!until()) {
    i++
    const r = (i * 2654435761) % 100 // a cheap, spread-out sequence
    let status: number
    if (r < 4) status = (await u.post(`/login?user=u${i % 50}`)).status
    else if (r < 8) status = (await u.post('/logout')).status
    else if (r < 10) {
      u = new User(http) // a new visitor: the old session is abandoned and will idle-expire
      status = (await u.post(`/set?k=first&v=${i}`)).status
    } else if (r < 40) status = (await u.post(`/set?k=k${i % 20}&v=${JSON.stringify({ i, pad: 'x'.repeat(i % 200) })}`)).status
    else if (r < 60) status = (await u.post('/incr')).status
    else if (r < 95) status = (await u.get(`/get?k=k${i % 20}`)).status
    else status = (await u.get('/all')).status
    counts.set(status, (counts.get(status) ?? 0) + 1)
    if (pauseMs) await sleep(pauseMs)
  }
}

interface StoreRun {
  store: 'redis' | 'sqlite'
  requests: number
  statuses: Record<string, number>
  samples: Array<{ t: number; heapMB: number }>
  heapGrowthPct: number
  lateGrowthPct: number
  before: Stats
  after: Stats
  redisClients?: { before: number; after: number }
  resourceDelta: Record<string, number>
  crashed: boolean
}

async function soakOne(kind: 'redis' | 'sqlite', ctx: FaultContext, durationMs: number): Promise<StoreRun> {
  const warmupMs = Math.round(durationMs * 0.2)
  const sampleEveryMs = ctx.short ? 1_000 : 10_000
  const redis = kind === 'redis' ? await startRedis() : undefined
  const dir = kind === 'sqlite' ? mkdtempSync(join(tmpdir(), 'sessionmesh-chaos-soak-')) : undefined
  const store = redis ? `redis:${redis.url}` : `sqlite:${join(dir!, 'sessions.db')}`
  const app = await spawnApp('server.ts', { STORE: store, IDLE_TIMEOUT: ctx.short ? '4s' : '30s', SWEEP_INTERVAL: '1s', PREFIX: 'soak:' }, { nodeArgs: ['--expose-gc'] })
  try {
    const counts = new Map<number, number>()
    const users = 4
    const pauseMs = 10
    // A first burst opens the store's connections and warms the JIT; then every socket of the load is closed.
    let http = new HttpClient(app.url, users)
    let stopAt = Date.now() + 1_000
    await Promise.all(Array.from({ length: users }, (_, i) => visitor(http, () => Date.now() > stopAt, counts, pauseMs, i * 1000)))
    http.close()
    const before = await settledStats(app)
    const clientsBefore = redis ? await redisClients(redis.port) : undefined
    ctx.log(`${kind}: before: heap ${(before.heapUsed / 1048576).toFixed(1)} MB, ${before.handles} handles, ${JSON.stringify(before.resources)}${redis ? `, redis clients ${clientsBefore}` : ''}`)

    http = new HttpClient(app.url, users)
    const started = Date.now()
    stopAt = started + durationMs
    const load = Promise.all(Array.from({ length: users }, (_, i) => visitor(http, () => Date.now() > stopAt || app.crashed(), counts, pauseMs, i * 7919)))
    const samples: Array<{ t: number; heapMB: number }> = []
    while (Date.now() < stopAt && !app.crashed()) {
      await sleep(Math.min(sampleEveryMs, Math.max(0, stopAt - Date.now())))
      if (app.crashed()) break
      const s = await stats(app)
      const t = Math.round((Date.now() - started) / 1000)
      samples.push({ t, heapMB: s.heapUsed / 1048576 })
      const total = [...counts.values()].reduce((a, b) => a + b, 0)
      ctx.log(`${kind}: ${t}/${Math.round(durationMs / 1000)} s, ${int(total)} requests, heap ${(s.heapUsed / 1048576).toFixed(2)} MB, ${s.handles} handles, ${s.created} created, ${s.expired} expired`)
    }
    await load
    http.close()
    const after = await settledStats(app)
    const clientsAfter = redis ? await redisClients(redis.port) : undefined
    ctx.log(`${kind}: after: heap ${(after.heapUsed / 1048576).toFixed(1)} MB, ${after.handles} handles, ${JSON.stringify(after.resources)}${redis ? `, redis clients ${clientsAfter}` : ''}`)

    // Heap growth after warm-up: the mean of the first three samples past the warm-up against the last three.
    const post = samples.filter((s) => s.t * 1000 >= warmupMs)
    const mean = (xs: typeof samples) => xs.reduce((a, s) => a + s.heapMB, 0) / Math.max(1, xs.length)
    const first = mean(post.slice(0, 3))
    const last = mean(post.slice(-3))
    const heapGrowthPct = post.length >= 2 ? (100 * (last - first)) / first : NaN
    // The same over the run's last 40 %: bounded caches (e.g. the 10,000-entry token MAC cache) are full by then.
    const late = samples.filter((s) => s.t * 1000 >= durationMs * 0.6)
    const lateGrowthPct = late.length >= 2 ? (100 * (mean(late.slice(-3)) - mean(late.slice(0, 3)))) / mean(late.slice(0, 3)) : NaN
    const resourceDelta: Record<string, number> = {}
    for (const k of new Set([...Object.keys(before.resources), ...Object.keys(after.resources)])) {
      const d = (after.resources[k] ?? 0) - (before.resources[k] ?? 0)
      if (d !== 0) resourceDelta[k] = d
    }
    const statuses: Record<string, number> = {}
    for (const [s, n] of [...counts].sort((a, b) => a[0] - b[0])) statuses[String(s)] = n
    return {
      store: kind,
      requests: [...counts.values()].reduce((a, b) => a + b, 0),
      statuses,
      samples,
      heapGrowthPct,
      lateGrowthPct,
      before,
      after,
      ...(redis ? { redisClients: { before: clientsBefore!, after: clientsAfter! } } : {}),
      resourceDelta,
      crashed: app.crashed(),
    }
  } finally {
    const crashed = app.crashed()
    await app.stop()
    if (crashed) ctx.log(`${kind}: app crashed (${app.exit()}):\n${app.stderr()}`)
    await redis?.stop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  }
}

export const soak: Fault = {
  name: 'soak',
  summary: 'Ten minutes (short: 20 s) of mixed traffic against the app on redisStore and on sqliteStore, each in a child process with --expose-gc.',
  async run(ctx) {
    const durationMs = Number(process.env.CHAOS_SOAK_SECONDS ?? (ctx.short ? 20 : 600)) * 1000
    ctx.log(`${durationMs / 1000} s on redis and sqlite at once (4 users per app, 10 ms pause between requests)`)
    const runs = await Promise.all([soakOne('redis', ctx, durationMs), soakOne('sqlite', ctx, durationMs)])
    const checks: Check[] = []
    for (const r of runs) {
      const bad = Object.entries(r.statuses).filter(([s]) => s !== '200')
      checks.push(verdict(`${r.store}: no crash`, !r.crashed))
      checks.push(verdict(`${r.store}: every answer 200`, bad.length === 0, JSON.stringify(r.statuses)))
      checks.push(verdict(`${r.store}: no internal errors or error events`, r.after.internalErrors === 0 && r.after.errorEvents === 0, `internal ${r.after.internalErrors}, error events ${r.after.errorEvents}`))
      checks.push(verdict(`${r.store}: no leaked handles or timers`, r.after.handles <= r.before.handles && Object.values(r.resourceDelta).every((d) => d <= 0), `handles ${r.before.handles} -> ${r.after.handles}; resources changed: ${JSON.stringify(r.resourceDelta)}`))
      if (r.redisClients) checks.push(verdict('redis: no leaked connections', r.redisClients.after <= r.redisClients.before, `connected_clients ${r.redisClients.before} -> ${r.redisClients.after}`))
      checks.push(target(`${r.store}: heap growth after warm-up < 5 %`, r.heapGrowthPct < 5, `${r.heapGrowthPct.toFixed(1)} %`))
    }
    const table: Array<[string, string]> = []
    for (const r of runs) {
      table.push([`${r.store}: requests (statuses)`, `${int(r.requests)} (${Object.entries(r.statuses).map(([s, n]) => `${s}: ${int(n)}`).join(', ')})`])
      table.push([`${r.store}: heap after forced GC, after warm-up → end`, `${r.samples.find((s) => s.t * 1000 >= durationMs * 0.2)?.heapMB.toFixed(2) ?? 'n/a'} MB → ${r.samples.at(-1)?.heapMB.toFixed(2) ?? 'n/a'} MB (growth ${r.heapGrowthPct.toFixed(1)} %, mean of 3 samples each end)`])
      table.push([`${r.store}: heap growth over the last 40 % of the run`, `${r.lateGrowthPct.toFixed(1)} %`])
      table.push([`${r.store}: heap after forced GC at 20 / 40 / 60 / 80 / 100 % of the run`, [0.2, 0.4, 0.6, 0.8, 1].map((f) => `${(r.samples.filter((s) => s.t * 1000 <= durationMs * f + 1_000).at(-1)?.heapMB ?? NaN).toFixed(2)}`).join(' / ') + ' MB'])
      table.push([`${r.store}: open handles before → after`, `${r.before.handles} → ${r.after.handles}`])
      table.push([`${r.store}: active resources before → after`, `${fmtResources(r.before.resources)} → ${fmtResources(r.after.resources)}`])
      if (r.redisClients) table.push(['redis: connected_clients before → after', `${r.redisClients.before} → ${r.redisClients.after}`])
      table.push([`${r.store}: sessions created / expired (swept) / destroyed`, `${int(r.after.created)} / ${int(r.after.expired)} / ${int(r.after.destroyed)}`])
    }
    return {
      checks,
      headline: runs.map((r) => `${r.store} heap ${r.heapGrowthPct >= 0 ? '+' : ''}${r.heapGrowthPct.toFixed(1)} %, handles ${r.before.handles}→${r.after.handles}`).join('; ') + (runs[0]?.redisClients ? `; redis clients ${runs[0].redisClients.before}→${runs[0].redisClients.after}` : ''),
      figures: { durationMs, runs },
      table,
    }
  },
}

const fmtResources = (r: Record<string, number>) =>
  Object.entries(r)
    .sort()
    .map(([k, n]) => `${k} ${n}`)
    .join(', ')
