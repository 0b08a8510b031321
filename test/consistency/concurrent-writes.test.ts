/**
 * Issue 4's headline: overlapping requests of one session never lose a write. 1,000
 * concurrent HTTP requests each calling `increment` on one session end at exactly 1,000 (and
 * every request saw a different value); 1,000 concurrent requests each setting a different
 * attribute leave all 1,000. On memory (one process), SQLite (two server processes on one
 * file), Redis and a 3-master Redis Cluster (two server processes each).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createSessions, memoryStore } from '../../src/index.js'
import { listen } from '../../harness/http.js'
import { type RedisClusterProcesses, type RedisProcess, startCluster, startRedis } from '../../harness/redis.js'
import { consistencyApp } from './fixtures/app.js'
import { type AppProcess, call, login, spawnApp } from './support.js'

const N = 1_000

interface Running {
  urls: string[]
  stop: () => Promise<void>
}

function describeConcurrentWrites(name: string, start: () => Promise<Running>) {
  describe(`concurrent writes on one session: ${name}`, () => {
    let running: Running = { urls: [], stop: async () => {} }
    before(async () => {
      running = await start()
    })
    after(() => running.stop())
    const urls = () => running.urls
    const at = (i: number) => urls()[i % urls().length] as string

    it(`${N} concurrent increments end at exactly ${N}, each answer distinct`, async () => {
      const cookie = await login(at(0))
      const answers = await Promise.all(Array.from({ length: N }, (_, i) => call(at(i), 'POST', '/inc', cookie)))
      assert.deepEqual(answers.filter((a) => a.status !== 200), [])
      const seen = answers.map((a) => a.body.n as number).sort((a, b) => a - b)
      assert.deepEqual(seen, Array.from({ length: N }, (_, i) => i + 1))
      const state = await call(at(1), 'GET', '/state', cookie)
      assert.equal(state.body.n, N)
    })

    it(`${N} concurrent requests setting different attributes keep all ${N}`, async () => {
      const cookie = await login(at(1))
      const answers = await Promise.all(Array.from({ length: N }, (_, i) => call(at(i), 'POST', `/set/${i}`, cookie)))
      assert.deepEqual(answers.filter((a) => a.status !== 200), [])
      const state = await call(at(0), 'GET', '/state', cookie)
      const missing = Array.from({ length: N }, (_, i) => i).filter((i) => state.body[`k${i}`] !== i)
      assert.deepEqual(missing, [])
    })
  })
}

const twoApps = async (store: string, cleanup: () => Promise<void>) => {
  const apps: AppProcess[] = await Promise.all([spawnApp(store), spawnApp(store)])
  return {
    urls: apps.map((a) => a.url),
    async stop() {
      await Promise.all(apps.map((a) => a.stop()))
      await cleanup()
    },
  }
}

describeConcurrentWrites('memory (one process)', async () => {
  const sessions = createSessions({ store: memoryStore(), secret: 'consistency-tests-secret-0123456789abcdef', sweepInterval: false })
  const app = await listen(createServer(consistencyApp(sessions)))
  return {
    urls: [app.url],
    async stop() {
      await app.close()
      await sessions.close()
    },
  }
})

describeConcurrentWrites('sqlite (two processes, one file)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sessionmesh-consistency-'))
  return twoApps(`sqlite:${join(dir, 'sessions.db')}`, async () => rmSync(dir, { recursive: true, force: true }))
})

describeConcurrentWrites('redis (two processes)', async () => {
  const redis: RedisProcess = await startRedis()
  return twoApps(`redis:${redis.url}`, () => redis.stop())
})

describeConcurrentWrites('redis cluster, 3 masters (two processes)', async () => {
  const cluster: RedisClusterProcesses = await startCluster(3, 0)
  const hosts = cluster.rootNodes.map((n) => n.url.replace('redis://', '')).join(',')
  return twoApps(`cluster:${hosts}`, () => cluster.stop())
})
