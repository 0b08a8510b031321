/**
 * cluster-failover: a Redis Cluster of three masters with one replica each; one master is
 * SIGKILLed under HTTP load, its replica is promoted (polled through CLUSTER NODES / INFO).
 * Two app processes run at once: one with `durability: 'replicated'`, one with `async`.
 * The promoted master has no replica left, so `replicated` saves on its slots are refused
 * (503 NOT_REPLICATED) until the killed node is restarted and rejoins as its replica; the
 * fault restarts it once the promotion is done, as an operator (or an orchestrator) would.
 */
import { join } from 'node:path'
import { cli, type RedisProcess, startCluster, startRedis, until } from '../../harness/redis.js'
import { type AppProcess, spawnApp } from '../lib/app.js'
import { settle, statusCounts, timeline, Traffic } from '../lib/traffic.js'
import { type Check, type Fault, int, lostText, ms, sleep, target, verdict } from '../lib/types.js'

// COMMAND_TIMEOUT: a request that outlived the store's commandTimeout during the switch (a StoreUnavailableError, documented 503).
const ALLOWED = new Set(['STORE_UNAVAILABLE', 'COMMAND_TIMEOUT', 'NOT_REPLICATED'])

interface NodeLine {
  id: string
  port: number
  busPort: number
  flags: string[]
  masterId: string
  slots: string[]
}

async function clusterNodes(port: number): Promise<NodeLine[]> {
  const text = await cli(port, 'CLUSTER', 'NODES')
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id = '', addr = '', flags = '', masterId = '', , , , , ...slots] = line.split(' ')
      const m = /:(\d+)@(\d+)/.exec(addr)
      return { id, port: Number(m?.[1]), busPort: Number(m?.[2]), flags: flags.split(','), masterId, slots }
    })
}

export const clusterFailover: Fault = {
  name: 'cluster-failover',
  summary: "One master of a 3-master Cluster (1 replica each) SIGKILLed under load; replica promoted; killed node restarted to rejoin as its replica.",
  async run(ctx) {
    const loadMs = ctx.short ? 2_000 : 10_000
    const users = 12
    const cluster = await startCluster(3, 1)
    const nodes: RedisProcess[] = [...cluster.nodes]
    const hosts = cluster.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')
    const modes = ['replicated', 'async'] as const
    const apps: AppProcess[] = []
    const loads: Traffic[] = []
    let killAt = 0
    let promotedAt = 0
    let rejoinedAt = 0
    let victim: NodeLine | undefined
    try {
      for (const mode of modes) apps.push(await spawnApp('server.ts', { STORE: `cluster:${hosts}`, DURABILITY: mode, PREFIX: `cluster-${mode}:` }))
      for (const app of apps) loads.push(new Traffic(app.url, users))
      await Promise.all(loads.map((l) => l.start()))
      await sleep(loadMs)
      const view = await clusterNodes(cluster.nodes[0]!.port)
      victim = view.find((n) => n.flags.includes('master') && view.some((r) => r.masterId === n.id))
      if (!victim) throw new Error('no master with a replica in CLUSTER NODES')
      const replica = view.find((r) => r.masterId === victim!.id)!
      const proc = nodes.find((n) => n.port === victim!.port)!
      const survivor = nodes.find((n) => n.port !== victim!.port)!
      killAt = Date.now()
      await proc.kill()
      ctx.log(`master ${victim.port} (slots ${victim.slots.join(' ')}) SIGKILLed; waiting for replica ${replica.port} to be promoted`)
      await until(
        'the replica promoted and the cluster ok',
        async () => {
          const now = await clusterNodes(survivor.port)
          const promoted = now.find((n) => n.id === replica.id)?.flags.includes('master') === true
          return promoted && (await cli(survivor.port, 'CLUSTER', 'INFO')).includes('cluster_state:ok')
        },
        60_000,
      )
      promotedAt = Date.now()
      ctx.log(`replica ${replica.port} promoted, cluster_state:ok ${ms(promotedAt - killAt)} after the kill; restarting ${victim.port} to rejoin as a replica`)
      const restarted = await startRedis(
        ['--cluster-enabled', 'yes', '--cluster-port', String(victim.busPort), '--cluster-config-file', join(proc.dir, 'nodes.conf'), '--cluster-node-timeout', '2000'],
        victim.port,
        proc.dir,
      )
      nodes[nodes.indexOf(proc)] = restarted
      await until('the old master rejoined as a replica in sync', async () => {
        const info = await cli(replica.port, 'INFO', 'replication')
        return /connected_slaves:1/.test(info) && /slave0:.*state=online/.test(info)
      }, 60_000)
      rejoinedAt = Date.now()
      ctx.log(`${victim.port} rejoined as the replica of ${replica.port} ${ms(rejoinedAt - killAt)} after the kill`)
      await until('every user of both apps served again', async () => apps.some((a) => a.crashed()) || loads.every((l) => timeline(l.outcomes, killAt, users, promotedAt).allUsersOkAfterMs !== null), 30_000).catch((e: Error) =>
        ctx.log(`${e.message}: ${loads.map((l) => JSON.stringify(statusCounts(l.outcomes.filter((o) => o.at > rejoinedAt)))).join(' / ')}`),
      )
      // Every user must also have had a successful write after the rejoin, for the replicated app.
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
      const lastFail = failures.reduce((a, o) => Math.max(a, o.at), 0)
      rows.push({
        mode,
        crashed,
        exit: app.exit(),
        stderr: crashed ? (/^(uncaughtException|unhandledRejection).*$/m.exec(app.stderr())?.[0] ?? app.stderr().slice(-300)) : '',
        statuses: statusCounts(load.outcomes),
        unexpected: statusCounts(failures.filter((o) => o.status !== 503 || !ALLOWED.has(o.code) || !o.documented503)),
        timeline: timeline(load.outcomes, killAt, users, promotedAt),
        lastFailureAfterKillMs: lastFail ? lastFail - killAt : 0,
        okAfterLastFailure: load.outcomes.filter((o) => o.status === 200 && o.at > lastFail).length,
        verify,
      })
    }
    await Promise.all(nodes.map((n) => n.stop()))
    await cluster.stop()
    const checks: Check[] = []
    for (const r of rows) {
      checks.push(verdict(`${r.mode}: no app process crash`, !r.crashed, r.crashed ? `${r.exit}: ${r.stderr}` : ''))
      checks.push(verdict(`${r.mode}: only 200 and 503 answers`, Object.keys(r.unexpected).length === 0, JSON.stringify(r.statuses)))
      checks.push(verdict(`${r.mode}: full recovery (every user served, no failure in the last stretch of load)`, r.timeline.allUsersOkAfterMs !== null && r.okAfterLastFailure >= users, `last failure ${ms(r.lastFailureAfterKillMs)} after the kill, ${int(r.okAfterLastFailure)} successes after it`))
    }
    const [rep, asy] = rows as [(typeof rows)[0], (typeof rows)[0]]
    checks.push(verdict('replicated: no acknowledged save lost', rep.verify.lost === 0, `${int(rep.verify.ackedWrites)} acknowledged, ${lostText(rep.verify.lost)} lost${rep.verify.examples.length ? `: ${rep.verify.examples.join('; ')}` : ''}`))
    checks.push(target('async: acknowledged saves lost (reported; replication is asynchronous)', asy.verify.lost === 0, `${int(asy.verify.ackedWrites)} acknowledged, ${asy.verify.lost} lost${asy.verify.examples.length ? `: ${asy.verify.examples.join('; ')}` : ''}`))
    const promotionMs = promotedAt - killAt
    const rejoinMs = rejoinedAt - killAt
    const fmt = (s: Record<string, number>) => Object.entries(s).map(([k, v]) => `${k}: ${int(v)}`).join(', ')
    return {
      checks,
      headline: `promotion ${ms(promotionMs)}; outage window ${ms(asy.timeline.windowMs)} (async) / ${ms(rep.timeline.windowMs)} (replicated, a replica rejoined at ${ms(rejoinMs)}); ${Object.keys(asy.unexpected).length + Object.keys(rep.unexpected).length ? 'errors other than 503' : 'only 503s'}; acknowledged saves lost: ${lostText(rep.verify.lost)} replicated, ${lostText(asy.verify.lost)} async`,
      figures: { users, loadMs, promotionMs, rejoinMs, victim, rows },
      table: [
        ['kill → replica promoted and cluster_state:ok', ms(promotionMs)],
        ['kill → killed node restarted and in sync as the new replica', ms(rejoinMs)],
        ...rows.flatMap((r): Array<[string, string]> => [
          [`${r.mode}: outage window (kill → first success after the last failure)`, ms(r.timeline.windowMs)],
          [`${r.mode}: longest time with no successful answer (all users)`, ms(r.timeline.maxStallMs)],
          [`${r.mode}: answers`, fmt(r.statuses)],
          [`${r.mode}: acknowledged writes / lost (sessions gone)`, `${int(r.verify.ackedWrites)} / ${lostText(r.verify.lost)} (${lostText(r.verify.lostSessions)})`],
        ]),
      ],
    }
  },
}
