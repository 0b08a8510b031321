// shardedStore over real redis-server instances (private, on free ports): 10,000 sessions
// go from 3 nodes to 4 and back to 3 while request traffic runs through the public API
// (createSessions, a request's open + commit), and then every session must be on exactly one
// node (asked of each node's own store), every read during the rebalances must have found its
// session, and every write made during them must be there. Then a node that dies: only its
// sessions fail, with NodeUnavailableError naming it.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { NodeUnavailableError, shardedStore, type RebalanceProgress } from '../../src/cluster/index.js'
import { createSessions } from '../../src/index.js'
import type { SessionStore } from '../../src/core/store.js'
import { redisStore } from '../../src/stores/redis/index.js'
import { cookiePair, run, SECRET } from '../core/helpers.js'
import { startRedis, until, type RedisProcess } from '../../harness/redis.js'

const SESSIONS = 10_000
const WORKERS = 24

/** Every live session id on one node, read with that node's own store. */
async function idsOn(store: SessionStore): Promise<string[]> {
  const ids: string[] = []
  let cursor: string | null = null
  do {
    const page = await store.scan({ cursor, limit: 1_000, now: Date.now() })
    for (const s of page.sessions) ids.push(s.id)
    cursor = page.cursor
  } while (cursor !== null)
  return ids
}

describe('shardedStore over redis: 3 -> 4 -> 3 nodes under live traffic', () => {
  let servers: RedisProcess[] = []
  before(async () => {
    servers = await Promise.all([startRedis(), startRedis(), startRedis(), startRedis()])
  })
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()))
  })

  it('loses, duplicates and misses nothing, and keeps every write made during the moves', async (t) => {
    const node = (i: number) => redisStore({ url: (servers[i] as RedisProcess).url, prefix: 'rb:' })
    const own = { a: node(0), b: node(1), c: node(2), d: node(3) } // a second client per node, to inspect it
    const [a, b, c, d] = [node(0), node(1), node(2), node(3)]
    const stages: RebalanceProgress[] = []
    const store = shardedStore({
      nodes: { a, b, c },
      concurrency: 32,
      batchSize: 500,
      onProgress: (p) => {
        if (stages.at(-1)?.phase !== p.phase) stages.push({ ...p })
      },
    })
    const sessions = createSessions({ store, secret: SECRET, sweepInterval: false })
    // Closed whatever happens: a client left open would keep reconnecting to a stopped server.
    // (A removed node's store is the caller's to close: `a` here.)
    t.after(() => Promise.all([sessions.close(), a.close(), ...Object.values(own).map((s) => s.close())]))
    const started = Date.now()

    // 10,000 sessions, made by requests.
    const cookies: string[] = []
    const ids: string[] = []
    for (let batch = 0; batch < SESSIONS; batch += 250) {
      const made = await Promise.all(
        Array.from({ length: Math.min(250, SESSIONS - batch) }, (_, i) =>
          run(sessions, undefined, (rs) => {
            rs.view.n = batch + i
          }),
        ),
      )
      for (const rs of made) {
        cookies.push(cookiePair(rs) as string)
        ids.push(rs.view.id)
      }
    }
    const seeded = Date.now()

    // Traffic: each worker reads (a request that must find its session) or writes its own attribute.
    let stop = false
    let reads = 0
    let writes = 0
    const misses: string[] = []
    const written = new Map<string, number>() // `${index}/w${worker}` -> value
    let random = 12345
    const next = () => (random = (Math.imul(random, 1103515245) + 12345) >>> 0) % SESSIONS
    const worker = async (w: number) => {
      for (let step = 0; !stop; step++) {
        const i = next()
        const cookie = cookies[i] as string
        if (step % 4 === 0) {
          await run(sessions, cookie, (rs) => {
            if (rs.view.isNew) misses.push(`write ${i}`)
            rs.view[`w${w}`] = step
          })
          written.set(`${i}/w${w}`, step)
          writes++
        } else {
          await run(sessions, cookie, (rs) => {
            if (rs.view.isNew || rs.view.n !== i) misses.push(`read ${i}`)
          })
          reads++
        }
      }
    }
    const traffic = Array.from({ length: WORKERS }, (_, w) => worker(w))

    const join = await store.addNode('d', d).done
    const joined = Date.now()
    const onD = await own.d.count(joined)
    const leave = await store.removeNode('a').done
    const left = Date.now()
    stop = true
    await Promise.all(traffic)

    t.diagnostic(
      `seed ${seeded - started} ms; 3 -> 4: d got ${onD}, the scan listed ${join.total} (${join.moved} by the migrator, ${join.skipped} already moved, ${join.movedOnAccess} moved by requests) in ${joined - seeded} ms; ` +
        `4 -> 3: ${leave.total} (${leave.moved} + ${leave.skipped}, ${leave.movedOnAccess} by requests) in ${left - joined} ms; ${reads} reads, ${writes} writes during the moves`,
    )
    assert.equal(misses.length, 0, `requests that did not find their session: ${misses.slice(0, 5).join(', ')}`)
    assert.ok(reads > 0 && writes > 0)
    assert.equal(join.remaining, 0)
    assert.equal(leave.remaining, 0)
    assert.deepEqual(
      stages.map((s) => s.phase),
      ['draining', 'scanning', 'moving', 'done', 'draining', 'scanning', 'moving', 'done'],
    )
    // About a quarter move on the join (1/(n+1)), requests moving many before the migrator lists them.
    assert.ok(onD > SESSIONS * 0.18 && onD < SESSIONS * 0.32, `the new node got ${onD} sessions`)

    // Exactly one copy of each session, on its owner, asked of each node's own store.
    const holders = new Map<string, string[]>()
    for (const [name, s] of Object.entries(own)) {
      for (const id of await idsOn(s)) holders.set(id, [...(holders.get(id) ?? []), name])
    }
    assert.equal(holders.size, SESSIONS, 'no session lost, none made up')
    for (const id of ids) assert.deepEqual(holders.get(id), [store.ownerOf(id)], 'on exactly one node: its owner')
    assert.deepEqual(await idsOn(own.a), [], 'the removed node is empty')

    // Every write made during the moves is there (each worker's last value per session).
    const check = [...written]
    for (let k = 0; k < check.length; k += 500) {
      await Promise.all(
        check.slice(k, k + 500).map(async ([key, value]) => {
          const [i, name] = key.split('/') as [string, string]
          const s = await sessions.get(ids[Number(i)] as string)
          assert.equal(s?.get(name), value, `write ${key}`)
        }),
      )
    }
  })
})

describe('shardedStore over redis: a node that dies', () => {
  let servers: RedisProcess[] = []
  before(async () => {
    servers = await Promise.all([startRedis(), startRedis(), startRedis()])
  })
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()))
  })

  it('fails only its own sessions, with NodeUnavailableError naming the node and not the session', async (t) => {
    const names = ['redis-a', 'redis-b', 'redis-c']
    const store = shardedStore({ nodes: names.map((name, i) => ({ name, store: redisStore({ url: (servers[i] as RedisProcess).url, connectTimeoutMs: 500 }) })) })
    const sessions = createSessions({ store, secret: SECRET, sweepInterval: false })
    t.after(() => sessions.close())
    const made = await Promise.all(Array.from({ length: 200 }, () => run(sessions, undefined, (rs) => (rs.view.x = 1))))
    const ids = made.map((rs) => rs.view.id)
    await (servers[1] as RedisProcess).kill()
    const dead = ids.filter((id) => store.ownerOf(id) === 'redis-b')
    const alive = ids.filter((id) => store.ownerOf(id) !== 'redis-b')
    assert.ok(dead.length > 0 && alive.length > 0)
    // The client notices the dead connection within a moment: poll, no fixed sleep.
    let failure: unknown
    await until('the dead node to fail its sessions', async () => {
      failure = await store.load(dead[0] as string, Date.now()).then(
        () => undefined,
        (e: unknown) => e,
      )
      return failure !== undefined
    })
    assert.ok(failure instanceof NodeUnavailableError)
    assert.equal(failure.node, 'redis-b')
    assert.ok(!failure.message.includes(dead[0] as string))
    for (const id of dead) await assert.rejects(sessions.get(id), (e: unknown) => e instanceof NodeUnavailableError && e.node === 'redis-b')
    for (const id of alive) assert.equal((await sessions.get(id))?.get('x'), 1)
  })
})
