/**
 * redis-restart: a private redis-server (appendonly yes, appendfsync always) is SIGKILLed
 * under HTTP load and restarted on the same port with the same data directory. The app
 * (Express + redisStore) runs in its own OS process; eight users write, read and increment.
 * Full variant: three kill/restart cycles with a 3 s outage each; short: one with 1 s.
 */
import { type RedisProcess, startRedis } from '../../harness/redis.js'
import { spawnApp } from '../lib/app.js'
import { firstPong } from '../lib/ping.js'
import { statusCounts, type Timeline, timeline, Traffic } from '../lib/traffic.js'
import { type Check, type Fault, int, ms, sleep, target, verdict } from '../lib/types.js'

const AOF = ['--appendonly', 'yes', '--appendfsync', 'always']

export const redisRestart: Fault = {
  name: 'redis-restart',
  summary: 'Redis (AOF, fsync always) SIGKILLed and restarted on the same port under HTTP load; app in its own process.',
  async run(ctx) {
    const cycles = ctx.short ? 1 : 3
    const outageMs = ctx.short ? 1_000 : 3_000
    const loadMs = ctx.short ? 1_500 : 5_000
    const users = 8
    let redis: RedisProcess = await startRedis(AOF)
    const app = await spawnApp('server.ts', { STORE: `redis:${redis.url}`, PREFIX: 'restart:' })
    const traffic = new Traffic(app.url, users)
    const perCycle: Array<Timeline & { cycle: number; killAt: number; backAt: number; during: Record<string, number> }> = []
    try {
      await traffic.start()
      await sleep(loadMs)
      for (let cycle = 1; cycle <= cycles; cycle++) {
        const ackedBefore = traffic.okCount()
        const killAt = Date.now()
        await redis.kill()
        ctx.log(`cycle ${cycle}: redis-server SIGKILLed after ${int(ackedBefore)} acknowledged answers; ${outageMs} ms outage`)
        await sleep(outageMs)
        const port = redis.port
        const dir = redis.dir
        const pong = firstPong(port)
        redis = await startRedis(AOF, port, dir)
        const backAt = await pong
        // Every user must be served again; then keep the load on a while longer.
        const deadline = Date.now() + 30_000
        while (Date.now() < deadline && timeline(traffic.outcomes, killAt, users, backAt).allUsersOkAfterMs === null) await sleep(20)
        const t = timeline(traffic.outcomes, killAt, users, backAt)
        const during = statusCounts(traffic.outcomes.filter((o) => o.at >= killAt && o.at < backAt))
        perCycle.push({ cycle, killAt, backAt, during, ...t })
        ctx.log(`cycle ${cycle}: PONG ${ms(backAt - killAt)} after the kill; first session request served ${ms(t.firstOkAfterMs)} after PONG, every user ${ms(t.allUsersOkAfterMs)}; during the outage: ${JSON.stringify(during)}`)
        if (app.crashed()) break
        await sleep(loadMs)
      }
    } finally {
      await traffic.stop()
    }
    const check = await traffic.verify()
    traffic.close()
    const crashed = app.crashed()
    const stderr = app.stderr()
    await app.stop()
    await redis.stop()

    const all = statusCounts(traffic.outcomes)
    const failures = traffic.outcomes.filter((o) => o.status !== 200)
    const undocumented = failures.filter((o) => !o.documented503 || (o.code !== 'STORE_UNAVAILABLE' && o.code !== 'COMMAND_TIMEOUT'))
    const recoveries = perCycle.map((c) => c.firstOkAfterMs ?? Infinity)
    const allUsers = perCycle.map((c) => c.allUsersOkAfterMs ?? Infinity)
    const worst = Math.max(...recoveries)
    const worstAll = Math.max(...allUsers)
    const checks: Check[] = [
      verdict('no app process crash', !crashed, crashed ? `exit ${app.exit()}: ${stderr.slice(-500)}` : ''),
      verdict('every failed request got 503 (STORE_UNAVAILABLE or COMMAND_TIMEOUT) with Retry-After and the JSON message', undocumented.length === 0, `${failures.length} failures; others: ${JSON.stringify(statusCounts(undocumented))}`),
      verdict('the outage was seen (requests answered 503 while Redis was down)', failures.length > 0, JSON.stringify(all)),
      verdict('service recovered after every restart (every user served again)', perCycle.length === cycles && allUsers.every(Number.isFinite), allUsers.map(ms).join(', ')),
      verdict('no acknowledged save lost', check.lost === 0, `${int(check.ackedWrites)} acknowledged writes on ${check.sessions} sessions, ${check.lost} missing${check.examples.length ? `: ${check.examples.join('; ')}` : ''}`),
      target('first session request served within 2 s of PONG', worst <= 2_000, `worst ${ms(worst)}`),
      target('every user served within 2 s of PONG', worstAll <= 2_000, `worst ${ms(worstAll)}`),
    ]
    return {
      checks,
      headline: `recovery ${ms(worst)} after PONG (every user ${ms(worstAll)}); ${failures.length} × 503 (${undocumented.length} other errors); ${check.lost} of ${int(check.ackedWrites)} acknowledged saves lost`,
      figures: { cycles, outageMs, users, perCycle: perCycle.map(({ killAt: _k, backAt: _b, ...rest }) => rest), statuses: all, verify: check, crashed },
      table: [
        ['kill/restart cycles, outage each', `${cycles}, ${outageMs} ms (Redis down, then restarted with its AOF)`],
        ['answers (all cycles)', Object.entries(all).map(([k, v]) => `${k}: ${int(v)}`).join(', ')],
        ...perCycle.map((c): [string, string] => [`cycle ${c.cycle}: PONG → first session request served / every user served`, `${ms(c.firstOkAfterMs)} / ${ms(c.allUsersOkAfterMs)}`]),
        ['acknowledged writes checked afterwards / lost', `${int(check.ackedWrites)} / ${check.lost}`],
      ],
    }
  },
}
