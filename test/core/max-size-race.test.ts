// maxSize under concurrency, through the public API (node:http + sessionmesh/node): 40
// concurrent requests each set a different 60 KB attribute on one session. Each is under the
// 64 KiB limit on its own view; the store re-checks against what it holds. Memory, SQLite
// (a file) and a private redis-server.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { SessionStore } from '../../src/index.js'
import { memoryStore } from '../../src/stores/memory/index.js'
import { redisStore } from '../../src/stores/redis/index.js'
import { sqliteStore } from '../../src/stores/sqlite/index.js'
import { startRedis, type RedisProcess } from '../../harness/redis.js'
import { sizeRace } from '../../harness/size-race.js'

let redis: RedisProcess
let dir: string
before(async () => {
  redis = await startRedis()
  dir = mkdtempSync(join(tmpdir(), 'sessionmesh-size-race-'))
})
after(async () => {
  await redis?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const stores: Array<[string, () => SessionStore]> = [
  ['memory', () => memoryStore()],
  ['sqlite', () => sqliteStore({ path: join(dir, 'sessions.db') })],
  ['redis', () => redisStore({ url: redis.url, prefix: 'race:' })],
]

describe('40 concurrent 60 KB sets on one session', () => {
  for (const [name, make] of stores) {
    it(`${name}: the stored session never passes maxSize, the refused requests get 413, later small writes succeed`, async () => {
      const r = await sizeRace(make(), { requests: 40, bytes: 60_000 })
      assert.ok(r.storedBytes > 0 && r.storedBytes <= r.maxSize, `${r.storedBytes} bytes stored (maxSize ${r.maxSize})`)
      // Exactly one 60 KB value fits next to the small one: one request wins, the others are refused.
      assert.deepEqual(
        [...r.statuses].sort((a, b) => a - b),
        [200, ...Array<number>(39).fill(413)],
      )
      assert.equal(r.storedNames.filter((n) => n.startsWith('big')).length, 1)
      assert.deepEqual(r.laterSmallWrites, [200, 200, 200])
    })
  }
})
