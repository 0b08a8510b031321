/**
 * The near cache across two OS processes on a private redis-server (store and Redis Streams
 * bus): a write on A is read on B; B's bus connection cut (CLIENT KILL) empties B's cache and
 * B recovers, reading what changed during the cut; revocation on A makes B refuse the
 * session even though B had it cached. Then with no bus at all, on a server and on a
 * 3-master Cluster: the store's own change feed (a PUBLISH inside each write script) keeps
 * the caches coherent, a cut feed flushes, and an instance's own save refills its cache.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { cli, type RedisClusterProcesses, type RedisProcess, startCluster, startRedis, until } from '../../harness/redis.js'
import { call } from '../consistency/support.js'

const APP = fileURLToPath(new URL('./fixtures/cache-app.ts', import.meta.url))

interface Instance {
  url: string
  child: ChildProcess
}

type Stats = { hits: number; misses: number; enabled: boolean; flushes: number }
const statsOf = async (i: Instance) => (await call(i.url, 'GET', '/stats')).body as Stats

function start(url: string, name: string, env: Record<string, string> = {}): Promise<Instance> {
  const child = spawn(process.execPath, ['--import', 'tsx', APP], { env: { ...process.env, REDIS_URL: url, NAME: name, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)))
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^listening (\d+)$/.exec(line)
      if (m) resolve({ url: `http://127.0.0.1:${m[1]}`, child })
    })
  })
}

describe('near cache across processes (Redis store + Redis Streams bus)', () => {
  let redis: RedisProcess
  let a: Instance
  let b: Instance
  let cookie: string
  const me = async (i: Instance) => call(i.url, 'GET', '/me', cookie)

  before(async () => {
    redis = await startRedis()
    ;[a, b] = await Promise.all([start(redis.url, 'A'), start(redis.url, 'B')])
    await until('both caches on', async () => (await statsOf(a)).enabled && (await statsOf(b)).enabled, 15_000)
    const login = await call(a.url, 'POST', '/login')
    cookie = login.cookie as string
  })
  after(async () => {
    for (const i of [a, b]) i?.child.kill('SIGTERM')
    await redis?.stop()
  })

  it('a write on A is read on B, and B then serves it from its cache', async () => {
    assert.equal((await me(b)).body.user, 'alice')
    await writeOnAReadOnB(a, b, cookie, 'first')
  })

  it("B's bus connection cut: B empties its cache, reconnects, and reads what changed meanwhile", async () => {
    assert.equal((await me(b)).body.note, 'first') // cached on B
    await cutAndRecover({ a, b, cookie, port: redis.port, clientName: 'B-bus', note: 'second' })
  })

  it('revoke on A: B refuses the session although it had it cached', () => revokeReaches(a, b, cookie))
})

/** A sets `note`; B reads it, and then serves it from its cache. */
async function writeOnAReadOnB(a: Instance, b: Instance, cookie: string, note: string): Promise<void> {
  const me = async () => (await call(b.url, 'GET', '/me', cookie)).body as { note: string | null }
  assert.equal((await call(a.url, 'POST', `/note/${note}`, cookie)).status, 200)
  await until('B reads the note', async () => (await me()).note === note, 10_000)
  // The read that first saw the note may have raced A's announcement (then it is not cached,
  // or the late announcement drops it): the next reads settle on a hit carrying the new note.
  await until('B serves the new note from its cache', async () => {
    const hits = (await statsOf(b)).hits
    const seen = (await me()).note
    return (await statsOf(b)).hits === hits + 1 && seen === note
  }, 10_000)
}

/** Kills B's connection named `clientName`, writes `note` on A meanwhile; B must flush, come back, and read it. */
async function cutAndRecover(o: { a: Instance; b: Instance; cookie: string; port: number; clientName: string; note: string }): Promise<void> {
  const flushes = (await statsOf(o.b)).flushes
  const killed = await killByName(o.port, o.clientName)
  assert.ok(killed >= 1, `B's connection ${o.clientName} was found and killed`)
  assert.equal((await call(o.a.url, 'POST', `/note/${o.note}`, o.cookie)).status, 200)
  await until('B flushed and is back', async () => {
    const s = await statsOf(o.b)
    return s.flushes > flushes && s.enabled
  }, 15_000)
  await until('B reads the change made during the cut', async () => (await call(o.b.url, 'GET', '/me', o.cookie)).body.note === o.note, 10_000)
}

/** B serves the session (from its cache on the second read); after a revoke on A, B refuses it. */
async function revokeReaches(a: Instance, b: Instance, cookie: string): Promise<void> {
  assert.equal((await call(b.url, 'GET', '/me', cookie)).status, 200)
  assert.equal((await call(b.url, 'GET', '/me', cookie)).status, 200)
  assert.equal((await call(a.url, 'POST', '/revoke')).body.revoked, 1)
  await until('B refuses', async () => (await call(b.url, 'GET', '/me', cookie)).status === 401, 10_000)
}

/** CLIENT KILL of every connection with this client name; how many went. */
async function killByName(port: number, name: string): Promise<number> {
  const list = await cli(port, 'CLIENT', 'LIST')
  let n = 0
  for (const line of list.split('\n')) {
    const id = /\bid=(\d+)\b/.exec(line)?.[1]
    if (id && new RegExp(`\\bname=${name}\\b`).test(line)) {
      await cli(port, 'CLIENT', 'KILL', 'ID', id)
      n++
    }
  }
  return n
}

/** The store's change feed alone (BUS=none): what a bus would add is shown above. */
function storeFeedSuite(title: string, setup: () => Promise<{ redisPort: number; env: Record<string, string>; url: string; stop: () => Promise<void> }>) {
  describe(title, () => {
    let stop: () => Promise<void>
    let port: number
    let a: Instance
    let b: Instance
    let cookie: string
    const me = async (i: Instance) => call(i.url, 'GET', '/me', cookie)

    before(async () => {
      const made = await setup()
      stop = made.stop
      port = made.redisPort
      const env = { ...made.env, BUS: 'none' }
      ;[a, b] = await Promise.all([start(made.url, 'A', env), start(made.url, 'B', env)])
      await until('both feeds up', async () => (await statsOf(a)).enabled && (await statsOf(b)).enabled, 15_000)
      cookie = (await call(a.url, 'POST', '/login')).cookie as string
    })
    after(async () => {
      for (const i of [a, b]) i?.child.kill('SIGTERM')
      await stop?.()
    })

    it('a save on A drops B\'s cached copy with no bus: B reads the new value, then from its cache', async () => {
      assert.equal((await me(b)).body.note, null)
      const warm = await statsOf(b)
      assert.equal((await me(b)).body.note, null)
      assert.equal((await statsOf(b)).hits, warm.hits + 1, 'B serves the session from its cache')
      await writeOnAReadOnB(a, b, cookie, 'first')
    })

    it("A's own save refills A's cache: the save's request and the next read load nothing", async () => {
      await me(a)
      const before = await statsOf(a)
      assert.equal((await call(a.url, 'POST', '/note/second', cookie)).status, 200)
      assert.equal((await me(a)).body.note, 'second')
      const after = await statsOf(a)
      assert.equal(after.misses, before.misses, 'no load after the save')
      assert.equal(after.hits, before.hits + 2)
    })

    it("B's feed connection cut: B empties its cache, resubscribes, and reads what changed meanwhile", async () => {
      await until('B has the latest note cached', async () => (await me(b)).body.note === 'second', 10_000)
      await cutAndRecover({ a, b, cookie, port, clientName: 'B-changes', note: 'third' })
    })

    it('revoke on A: B refuses the session although it had it cached', () => revokeReaches(a, b, cookie))
  })
}

storeFeedSuite('near cache kept coherent by the Redis store\'s own change feed (no bus)', async () => {
  const redis = await startRedis()
  return { redisPort: redis.port, env: {}, url: redis.url, stop: () => redis.stop() }
})

storeFeedSuite('near cache on a 3-master Redis Cluster, store change feed only', async () => {
  const cluster: RedisClusterProcesses = await startCluster(3)
  // B's feed subscribes to one master (the first, as attempt 0 picks): the cut is made there.
  const first = cluster.nodes[0] as RedisProcess
  return {
    redisPort: first.port,
    env: { REDIS_CLUSTER: cluster.rootNodes.map((n) => n.url).join(',') },
    url: '',
    stop: () => cluster.stop(),
  }
})
