/**
 * redis-blackhole: the redis-server is paused (SIGSTOP) under HTTP load and resumed
 * (SIGCONT) later: it keeps its sockets and takes commands but answers none, as a network
 * black hole looks to a client. The app (Express + redisStore, commandTimeout 2 s) runs in its
 * own OS process; eight users write, read and increment. Full variant: a 10 s pause; short: 3 s.
 * Verdicts: every request answered (none hangs), every failure the documented 503, service
 * back after the resume without restarting the app, no acknowledged save lost. Target: every
 * answer within the command timeout + 500 ms.
 */
import { startRedis } from '../../harness/redis.js'
import { spawnApp } from '../lib/app.js'
import { NO_ANSWER } from '../lib/http.js'
import { statusCounts, timeline, Traffic } from '../lib/traffic.js'
import { type Check, type Fault, int, lostText, ms, sleep, target, verdict } from '../lib/types.js'

const COMMAND_TIMEOUT_MS = 2_000

export const redisBlackhole: Fault = {
  name: 'redis-blackhole',
  summary: 'Redis paused (SIGSTOP: sockets open, no answers) under HTTP load, then resumed; app (commandTimeout 2 s) in its own process.',
  async run(ctx) {
    const pauseMs = ctx.short ? 3_000 : 10_000
    const loadMs = ctx.short ? 1_500 : 5_000
    const users = 8
    const redis = await startRedis()
    const pid = redis.process.pid
    if (pid === undefined) throw new Error('redis-server has no pid')
    const app = await spawnApp('server.ts', { STORE: `redis:${redis.url}`, PREFIX: 'blackhole:', COMMAND_TIMEOUT: `${COMMAND_TIMEOUT_MS}ms` })
    // The client gives up only long after any answer was due: a request that hangs shows as "no answer".
    const traffic = new Traffic(app.url, users, { timeoutMs: pauseMs + 10_000 })
    let pausedAt = 0
    let resumedAt = 0
    try {
      await traffic.start()
      await sleep(loadMs)
      pausedAt = Date.now()
      process.kill(pid, 'SIGSTOP')
      ctx.log(`redis-server paused after ${int(traffic.okCount())} acknowledged answers; resuming in ${ms(pauseMs)}`)
      try {
        await sleep(pauseMs)
      } finally {
        process.kill(pid, 'SIGCONT')
        resumedAt = Date.now()
      }
      const deadline = Date.now() + 30_000
      while (Date.now() < deadline && timeline(traffic.outcomes, pausedAt, users, resumedAt).allUsersOkAfterMs === null && !app.crashed()) await sleep(20)
      await sleep(loadMs)
    } finally {
      await traffic.stop()
    }
    const check = await traffic.verify()
    traffic.close()
    const crashed = app.crashed()
    const stderr = app.stderr()
    await app.stop()
    await redis.stop()

    const t = timeline(traffic.outcomes, pausedAt, users, resumedAt)
    const all = statusCounts(traffic.outcomes)
    const during = statusCounts(traffic.outcomes.filter((o) => o.at >= pausedAt && o.at < resumedAt))
    const unanswered = traffic.outcomes.filter((o) => o.status === NO_ANSWER)
    const failures = traffic.outcomes.filter((o) => o.status !== 200)
    const undocumented = failures.filter((o) => !o.documented503 || (o.code !== 'COMMAND_TIMEOUT' && o.code !== 'STORE_UNAVAILABLE'))
    const latencies = traffic.outcomes.map((o) => o.at - o.started)
    const slowest = Math.max(0, ...latencies)
    const pausedLatencies = traffic.outcomes.filter((o) => o.started >= pausedAt && o.started < resumedAt).map((o) => o.at - o.started)
    const checks: Check[] = [
      verdict('no app process crash', !crashed, crashed ? `exit ${app.exit()}: ${stderr.slice(-500)}` : ''),
      verdict('every request answered (none hangs)', unanswered.length === 0, `${unanswered.length} without an answer${unanswered[0] ? `: ${unanswered[0].code}` : ''}`),
      verdict('every failed request got 503 (COMMAND_TIMEOUT or STORE_UNAVAILABLE) with Retry-After and the JSON message', undocumented.length === 0, `${failures.length} failures; others: ${JSON.stringify(statusCounts(undocumented))}`),
      verdict('the pause was seen (requests answered 503 while Redis was silent)', failures.length > 0, JSON.stringify(during)),
      verdict('service back after the resume, app not restarted (every user served again)', t.allUsersOkAfterMs !== null, ms(t.allUsersOkAfterMs)),
      verdict('no acknowledged save lost', check.lost === 0, `${int(check.ackedWrites)} acknowledged writes on ${check.sessions} sessions, ${lostText(check.lost)} missing${check.examples.length ? `: ${check.examples.join('; ')}` : ''}`),
      target(`every answer within the command timeout + 500 ms (${ms(COMMAND_TIMEOUT_MS + 500)})`, slowest <= COMMAND_TIMEOUT_MS + 500, `slowest ${ms(slowest)}`),
    ]
    return {
      checks,
      headline: `slowest answer ${ms(slowest)} (command timeout ${ms(COMMAND_TIMEOUT_MS)}); ${unanswered.length} unanswered; every user served ${ms(t.allUsersOkAfterMs)} after the resume; ${lostText(check.lost)} of ${int(check.ackedWrites)} acknowledged saves lost`,
      figures: {
        pauseMs,
        users,
        commandTimeoutMs: COMMAND_TIMEOUT_MS,
        slowestMs: slowest,
        slowestWhilePausedMs: Math.max(0, ...pausedLatencies),
        statuses: all,
        during,
        timeline: t,
        verify: check,
        crashed,
      },
      table: [
        ['pause (SIGSTOP → SIGCONT), command timeout', `${ms(pauseMs)}, ${ms(COMMAND_TIMEOUT_MS)}`],
        ['answers', Object.entries(all).map(([k, v]) => `${k}: ${int(v)}`).join(', ')],
        ['answers while paused', Object.entries(during).map(([k, v]) => `${k}: ${int(v)}`).join(', ')],
        ['slowest answer (any time / started while paused)', `${ms(slowest)} / ${ms(Math.max(0, ...pausedLatencies))}`],
        ['resume → first session request served / every user served', `${ms(t.firstOkAfterMs)} / ${ms(t.allUsersOkAfterMs)}`],
        ['acknowledged writes checked afterwards / lost', `${int(check.ackedWrites)} / ${lostText(check.lost)}`],
      ],
    }
  },
}
