/**
 * sqlite-locked: while eight users write, read and increment through the app (Express +
 * sqliteStore, its own OS process), another OS process takes the file's write lock
 * (BEGIN EXCLUSIVE) and holds it 5 s (short: 2 s); a bystander polls a route that never
 * touches the session. Verdicts: no crash, every request answered (200, or the documented 503
 * once a write outlasts the store's busy timeout), no acknowledged save lost. Target: the
 * bystander's p99 stays under 50 ms during the lock (the event loop is not frozen).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { holdSqliteLock } from '../../harness/sqlite-lock.js'
import { spawnApp } from '../lib/app.js'
import { HttpClient } from '../lib/http.js'
import { statusCounts, Traffic } from '../lib/traffic.js'
import { type Check, type Fault, int, ms, sleep, target, verdict } from '../lib/types.js'

interface Ping {
  started: number
  at: number
  ms: number
  status: number
}

/** The q-quantile (0..1) of `values`, nearest rank; NaN for none. */
function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN
}

/** One request at a time to `/ping`, until stopped: what a health check or a static page sees. */
function bystander(base: string) {
  const http = new HttpClient(base, 2)
  const pings: Ping[] = []
  let stop = false
  const running = (async () => {
    while (!stop) {
      const started = Date.now()
      const a = await http.send('/ping', { timeoutMs: 10_000 })
      pings.push({ started, at: a.at, ms: a.ms, status: a.status })
      await sleep(5)
    }
  })()
  return {
    pings,
    async stop() {
      stop = true
      await running
      http.close()
    },
  }
}

export const sqliteLocked: Fault = {
  name: 'sqlite-locked',
  summary: 'Another OS process holds the SQLite write lock (BEGIN EXCLUSIVE) under HTTP load; a bystander route without sessions is timed.',
  async run(ctx) {
    const lockMs = ctx.short ? 2_000 : 5_000
    const aroundMs = ctx.short ? 1_000 : 3_000
    const users = 8
    const dir = mkdtempSync(join(tmpdir(), 'sessionmesh-chaos-sqlite-locked-'))
    const path = join(dir, 'sessions.db')
    const app = await spawnApp('server.ts', { STORE: `sqlite:${path}` })
    const traffic = new Traffic(app.url, users)
    const ping = bystander(app.url)
    let lockedAt = 0
    let releasedAt = 0
    try {
      await traffic.start()
      await sleep(aroundMs)
      const lock = await holdSqliteLock(path, lockMs)
      lockedAt = Date.now()
      ctx.log(`another process holds BEGIN EXCLUSIVE on ${path} for ${lockMs / 1000} s`)
      await lock.released
      releasedAt = Date.now()
      await lock.release()
      ctx.log(`lock released after ${ms(releasedAt - lockedAt)}`)
      await sleep(aroundMs)
    } finally {
      await traffic.stop()
      await ping.stop()
    }
    const check = await traffic.verify()
    traffic.close()
    const crashed = app.crashed()
    const stderr = app.stderr()
    await app.stop()
    rmSync(dir, { recursive: true, force: true })

    const during = ping.pings.filter((p) => p.started >= lockedAt && p.started < releasedAt)
    // The same route before the lock: what this machine gives anyway (a loaded CI box is slow without any lock).
    const beforeLock = ping.pings.filter((p) => p.at < lockedAt)
    const p99Before = quantile(beforeLock.map((p) => p.ms), 0.99)
    const p50 = quantile(during.map((p) => p.ms), 0.5)
    const p99 = quantile(during.map((p) => p.ms), 0.99)
    const worstPing = Math.max(...during.map((p) => p.ms))
    const badPings = ping.pings.filter((p) => p.status !== 200)
    const all = statusCounts(traffic.outcomes)
    const unanswered = traffic.outcomes.filter((o) => o.status !== 200 && !(o.documented503 && o.code === 'STORE_UNAVAILABLE'))
    const refused = traffic.outcomes.filter((o) => o.status === 503).length
    // Session requests answered 200 after the release that were begun at least half the lock
    // earlier (most were in flight when the lock was taken): they waited for it, then landed.
    const waited = traffic.outcomes.filter((o) => o.status === 200 && o.at >= releasedAt && o.started <= releasedAt - lockMs / 2).length
    const checks: Check[] = [
      verdict('no app process crash', !crashed, crashed ? `exit ${app.exit()}: ${stderr.slice(-500)}` : ''),
      verdict('every session request answered: 200, or 503 STORE_UNAVAILABLE with Retry-After', unanswered.length === 0, JSON.stringify(all)),
      verdict('every bystander request answered 200', badPings.length === 0 && during.length > 0, `${int(ping.pings.length)} requests (${int(during.length)} during the lock), ${badPings.length} not 200`),
      verdict('the lock was felt: session writes in flight during it waited and landed after it', waited > 0, `${int(waited)} requests`),
      verdict('no acknowledged save lost', check.lost === 0, `${int(check.ackedWrites)} acknowledged writes on ${check.sessions} sessions, ${check.lost} missing${check.examples.length ? `: ${check.examples.join('; ')}` : ''}`),
      target('bystander p99 during the lock < 50 ms', p99 < 50, `p50 ${ms(p50)}, p99 ${ms(p99)}, max ${ms(worstPing)}; before the lock p99 ${ms(p99Before)}`),
    ]
    return {
      checks,
      headline: `bystander p99 ${ms(p99)} (max ${ms(worstPing)}) during a ${(lockMs / 1000).toFixed(0)} s lock; ${int(waited)} session requests waited and landed, ${refused} × 503; ${check.lost} of ${int(check.ackedWrites)} acknowledged saves lost`,
      figures: { lockMs, heldMs: releasedAt - lockedAt, users, bystander: { requests: ping.pings.length, during: during.length, p50, p99, max: worstPing, before: beforeLock.length, p99Before }, waited, refused, statuses: all, verify: check, crashed },
      table: [
        ['lock held by another process (BEGIN EXCLUSIVE)', `${ms(releasedAt - lockedAt)}, under load from ${users} users`],
        ['bystander route (no session) during the lock: requests / p50 / p99 / max', `${int(during.length)} / ${ms(p50)} / ${ms(p99)} / ${ms(worstPing)}`],
        ['bystander route before the lock: requests / p99', `${int(beforeLock.length)} / ${ms(p99Before)}`],
        ['session requests in flight during the lock that waited and landed after it', int(waited)],
        ['answers (whole run)', Object.entries(all).map(([k, v]) => `${k}: ${int(v)}`).join(', ')],
        ['acknowledged writes checked afterwards / lost', `${int(check.ackedWrites)} / ${check.lost}`],
      ],
    }
  },
}
