/**
 * sentinel-failover: a master with two replicas and three sentinels; the master is SIGKILLed
 * under HTTP load. Two app processes run at once on the same set-up, one with
 * `durability: 'replicated'` (WAIT 1, 500 ms) and one with the default `async`, so both
 * lost-acknowledged-save counts come from the same failover.
 */
import { cli, startSentinel, until } from '../../harness/redis.js'
import { type AppProcess, spawnApp } from '../lib/app.js'
import { settle, statusCounts, timeline, Traffic } from '../lib/traffic.js'
import { type Check, type Fault, int, lostText, ms, sleep, target, verdict } from '../lib/types.js'

// COMMAND_TIMEOUT: a request that outlived the store's commandTimeout during the switch (a StoreUnavailableError, documented 503).
const ALLOWED = new Set(['STORE_UNAVAILABLE', 'COMMAND_TIMEOUT', 'NOT_REPLICATED'])

export const sentinelFailover: Fault = {
  name: 'sentinel-failover',
  summary: "Master SIGKILLed behind Sentinel (2 replicas, 3 sentinels) under load; one app with durability 'replicated', one with 'async'.",
  async run(ctx) {
    const loadMs = ctx.short ? 2_000 : 10_000
    const users = 6
    const setup = await startSentinel(2, 3, 'chaos')
    const hosts = setup.sentinelRootNodes.map((n) => `${n.host}:${n.port}`).join(',')
    const modes = ['replicated', 'async'] as const
    const apps: AppProcess[] = []
    const loads: Traffic[] = []
    let killAt = 0
    let promotedAt = 0
    let newMaster = 0
    try {
      for (const mode of modes) {
        apps.push(await spawnApp('server.ts', { STORE: `sentinel:${setup.name}@${hosts}`, DURABILITY: mode, PREFIX: `sentinel-${mode}:` }))
      }
      for (const app of apps) loads.push(new Traffic(app.url, users))
      await Promise.all(loads.map((l) => l.start()))
      await sleep(loadMs)
      const oldMaster = setup.master.port
      killAt = Date.now()
      await setup.master.kill()
      ctx.log(`master ${oldMaster} SIGKILLed; waiting for the sentinels to promote a replica`)
      await until('a replica promoted', async () => (await setup.masterPort()) !== oldMaster, 60_000)
      promotedAt = Date.now()
      newMaster = await setup.masterPort()
      ctx.log(`sentinels name ${newMaster} master ${ms(promotedAt - killAt)} after the kill`)
      await until('the new master has a replica again', async () => /connected_slaves:[1-9]/.test(await cli(newMaster, 'INFO', 'replication')), 30_000)
      await until(
        'every user of both apps served again',
        async () => loads.every((l) => timeline(l.outcomes, killAt, users, promotedAt).allUsersOkAfterMs !== null),
        60_000,
      )
      await sleep(loadMs)
    } finally {
      await Promise.all(loads.map((l) => l.stop()))
    }
    const rows = []
    for (const [i, mode] of modes.entries()) {
      const load = loads[i]!
      const app = apps[i]!
      const { crashed, verify } = await settle(mode, app, load, (line) => ctx.log(line))
      const failures = load.outcomes.filter((o) => o.status !== 200)
      rows.push({
        mode,
        crashed,
        exit: app.exit(),
        stderr: crashed ? (/^(uncaughtException|unhandledRejection).*$/m.exec(app.stderr())?.[0] ?? app.stderr().slice(-300)) : '',
        statuses: statusCounts(load.outcomes),
        unexpected: statusCounts(failures.filter((o) => o.status !== 503 || !ALLOWED.has(o.code) || !o.documented503)),
        timeline: timeline(load.outcomes, killAt, users, promotedAt),
        verify,
        sessionsReplaced: load.sessionsReplaced,
      })
    }
    await setup.stop()
    const promotionMs = promotedAt - killAt
    const checks: Check[] = []
    for (const r of rows) {
      const t = r.timeline
      checks.push(verdict(`${r.mode}: no app process crash`, !r.crashed, r.crashed ? `${r.exit}: ${r.stderr}` : ''))
      checks.push(verdict(`${r.mode}: only 200 and 503 answers`, Object.keys(r.unexpected).length === 0, JSON.stringify(r.statuses)))
      checks.push(verdict(`${r.mode}: recovered (every user served after the promotion)`, t.allUsersOkAfterMs !== null, `every user ${ms(t.allUsersOkAfterMs)} after the promotion`))
    }
    const rep = rows[0]!
    const asy = rows[1]!
    checks.push(verdict("replicated: no acknowledged save lost", rep.verify.lost === 0, `${int(rep.verify.ackedWrites)} acknowledged, ${lostText(rep.verify.lost)} lost${rep.verify.examples.length ? `: ${rep.verify.examples.join('; ')}` : ''}`))
    checks.push(target('async: acknowledged saves lost (reported; replication is asynchronous)', asy.verify.lost === 0, `${int(asy.verify.ackedWrites)} acknowledged, ${asy.verify.lost} lost${asy.verify.examples.length ? `: ${asy.verify.examples.join('; ')}` : ''}`))
    const fmtStatuses = (s: Record<string, number>) => Object.entries(s).map(([k, v]) => `${k}: ${int(v)}`).join(', ')
    return {
      checks,
      headline: `promotion ${ms(promotionMs)}; no successful answer for ${ms(rep.timeline.maxStallMs)} (replicated) / ${ms(asy.timeline.maxStallMs)} (async), ${rep.timeline.failures + asy.timeline.failures} × 503 (requests held, not failed); acknowledged saves lost: ${lostText(rep.verify.lost)} replicated, ${lostText(asy.verify.lost)} async`,
      figures: { users, loadMs, promotionMs, rows },
      table: [
        ['kill → sentinels name the new master', ms(promotionMs)],
        ...rows.flatMap((r): Array<[string, string]> => [
          [`${r.mode}: outage window (kill → first success after the last failure)`, ms(r.timeline.windowMs)],
          [`${r.mode}: longest time with no successful answer`, ms(r.timeline.maxStallMs)],
          [`${r.mode}: answers`, fmtStatuses(r.statuses)],
          [`${r.mode}: acknowledged writes / lost (sessions gone)`, `${int(r.verify.ackedWrites)} / ${lostText(r.verify.lost)} (${lostText(r.verify.lostSessions)})`],
        ]),
      ],
    }
  },
}
