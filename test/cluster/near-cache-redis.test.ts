/**
 * The near cache across two OS processes on a private redis-server (store and Redis Streams
 * bus): a write on A is read on B; B's bus connection cut (CLIENT KILL) empties B's cache and
 * B recovers, reading what changed during the cut; revocation on A makes B refuse the
 * session even though B had it cached.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { cli, type RedisProcess, startRedis, until } from '../support/redis.js'
import { call } from '../consistency/support.js'

const APP = fileURLToPath(new URL('./fixtures/cache-app.ts', import.meta.url))

interface Instance {
  url: string
  child: ChildProcess
}

function start(url: string, name: string): Promise<Instance> {
  const child = spawn(process.execPath, ['--import', 'tsx', APP], { env: { ...process.env, REDIS_URL: url, NAME: name }, stdio: ['ignore', 'pipe', 'inherit'] })
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
  const stats = async (i: Instance) => (await call(i.url, 'GET', '/stats')).body as { hits: number; enabled: boolean; flushes: number }
  const me = async (i: Instance) => call(i.url, 'GET', '/me', cookie)

  before(async () => {
    redis = await startRedis()
    ;[a, b] = await Promise.all([start(redis.url, 'A'), start(redis.url, 'B')])
    await until('both caches on', async () => (await stats(a)).enabled && (await stats(b)).enabled, 15_000)
    const login = await call(a.url, 'POST', '/login')
    cookie = login.cookie as string
  })
  after(async () => {
    for (const i of [a, b]) i?.child.kill('SIGTERM')
    await redis?.stop()
  })

  it('a write on A is read on B, and B then serves it from its cache', async () => {
    assert.equal((await me(b)).body.user, 'alice')
    assert.equal((await call(a.url, 'POST', '/note/first', cookie)).status, 200)
    await until('B reads the note', async () => (await me(b)).body.note === 'first', 10_000)
    // The read that first saw the note may have raced A's event (then it is not cached, or the
    // late event drops it): the next reads settle on a cache hit that carries the new note.
    await until('B serves the new note from its cache', async () => {
      const hits = (await stats(b)).hits
      const note = (await me(b)).body.note
      return (await stats(b)).hits === hits + 1 && note === 'first'
    }, 10_000)
  })

  it("B's bus connection cut: B empties its cache, reconnects, and reads what changed meanwhile", async () => {
    assert.equal((await me(b)).body.note, 'first') // cached on B
    const flushes = (await stats(b)).flushes
    const killed = await killByName(redis.port, 'B-bus')
    assert.ok(killed >= 1, 'the B reader connection was found and killed')
    assert.equal((await call(a.url, 'POST', '/note/second', cookie)).status, 200)
    await until('B flushed and is back', async () => {
      const s = await stats(b)
      return s.flushes > flushes && s.enabled
    }, 15_000)
    await until('B reads the change made during the cut', async () => (await me(b)).body.note === 'second', 10_000)
  })

  it('revoke on A: B refuses the session although it had it cached', async () => {
    assert.equal((await me(b)).status, 200)
    assert.equal((await me(b)).status, 200)
    assert.equal((await call(a.url, 'POST', '/revoke')).body.revoked, 1)
    await until('B refuses', async () => (await me(b)).status === 401, 10_000)
  })
})

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
