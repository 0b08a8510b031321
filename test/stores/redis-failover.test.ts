/**
 * A Sentinel failover under traffic: the master is killed (SIGKILL) while four clients keep
 * writing; Sentinel promotes the replica; the store follows it without a restart. With
 * `durability: 'replicated'` every save the app acknowledged (a 200) is on the new master.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import { createSessions, type Sessions } from '../../src/index.js'
import { redisStore } from '../../src/stores/redis/index.js'
import { startExpress } from '../adapters/express-app.js'
import { type AppHandle, Client } from '../../harness/http.js'
import { startSentinel, until, type SentinelProcesses } from '../../harness/redis.js'

const SECRET = 'redis-failover-test-secret-0123456789abcdef'

describe('Sentinel failover under traffic', () => {
  let setup: SentinelProcesses
  let sessions: Sessions
  let handle: AppHandle
  before(async () => {
    // Two replicas: after the failover one is left to acknowledge saves to the new master.
    setup = await startSentinel(2, 3, 'failover')
    sessions = createSessions({
      store: redisStore({
        sentinel: { name: setup.name, sentinelRootNodes: setup.sentinelRootNodes },
        durability: { replicas: 1, timeoutMs: 500 },
        prefix: 'fo:',
      }),
      secret: SECRET,
      sweepInterval: false,
    })
    handle = await startExpress(() => express())(sessions)
  })
  after(async () => {
    await handle?.close()
    await sessions?.close()
    await setup?.stop()
  })

  it("loses no acknowledged save with durability 'replicated', and reconnects by itself", { timeout: 90_000 }, async () => {
    const clients = Array.from({ length: 4 }, () => new Client(handle.url))
    for (const c of clients) assert.equal((await c.post('/set?k=start&v=0')).status, 200)
    const acked = clients.map(() => [] as number[])
    const statuses = new Map<number, number>()
    let n = 0
    let ackedAfterKill = 0
    let killed = false
    let stop = false
    const writers = clients.map(async (c, w) => {
      while (!stop) {
        const i = n++
        const r = await c.post(`/set?k=k${i}&v=${i}`)
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1)
        if (r.status === 200) {
          acked[w]!.push(i)
          if (killed) ackedAfterKill++
        }
      }
    })
    const oldMaster = setup.master.port
    try {
      await until('traffic before the failure', async () => acked.flat().length >= 200, 20_000)
      await setup.master.kill()
      killed = true
      await until('the replica promoted', async () => (await setup.masterPort()) !== oldMaster, 30_000)
      await until(`traffic acknowledged again after the failover (${JSON.stringify([...statuses])})`, async () => ackedAfterKill >= 200, 30_000)
    } finally {
      stop = true
      await Promise.all(writers)
    }
    const unexpected = [...statuses.keys()].filter((s) => s !== 200 && s !== 503)
    assert.deepEqual(unexpected, [], `only 200 or 503 during the failover: ${JSON.stringify([...statuses])}`)
    for (const [w, c] of clients.entries()) {
      const s = await sessions.get(sessions.tokens.read(c.token!)!.id)
      assert.ok(s, 'the session survived the failover')
      const missing = acked[w]!.filter((i) => s.get(`k${i}`) !== i)
      assert.deepEqual(missing, [], `client ${w}: acknowledged saves missing after failover`)
    }
    assert.ok(acked.flat().length >= 400)
  })
})
