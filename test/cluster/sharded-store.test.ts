// shardedStore over memory nodes: placement and movement (property tests), rebalances under
// concurrent readers, writers and a second instance running the same rebalance, the move
// protocol's corner cases (a late write on the old node, a destroy during a move), nodes that
// are down, the scan cursor and the API's refusals.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import {
  HashRing,
  NodeUnavailableError,
  RebalanceInProgressError,
  shardedStore,
  type RebalanceProgress,
  type ShardedStore,
} from '../../src/cluster/index.js'
import { moveSession, type NodeCall } from '../../src/cluster/migrator.js'
import { ConfigurationError, SessionExistsError, StoreUnavailableError } from '../../src/core/errors.js'
import type { SessionStore } from '../../src/core/store.js'
import { wrapStore } from '../../src/core/operations.js'
import { withFallbacks } from '../../src/core/fallbacks.js'
import { memoryStore } from '../../src/stores/memory/index.js'
import { delta, sessionRecord } from '../../src/testing/index.js'

type Store = ReturnType<typeof memoryStore>

/** Every node (by name) holding a live copy of each id, asked of the nodes' own stores. */
async function placement(nodes: Map<string, SessionStore>, ids: readonly string[], now = Date.now()): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>()
  for (const id of ids) {
    const holders: string[] = []
    for (const [name, store] of nodes) if (await store.load(id, now)) holders.push(name)
    out.set(id, holders)
  }
  return out
}

function memoryNodes(names: readonly string[]): Map<string, Store> {
  return new Map(names.map((n) => [n, memoryStore()]))
}

async function seed(store: ShardedStore, count: number, principal?: string): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < count; i++) {
    const s = sessionRecord({ attributes: new Map([['n', String(i)]]), principal: principal ?? null })
    await store.create(s)
    ids.push(s.id)
  }
  return ids
}

/** A node that can be switched off: every call then fails as a dead connection would (naming the session, as some clients do). */
function switchable(inner: SessionStore) {
  const state = { down: false }
  const store = wrapStore(inner, (operation, call) =>
    state.down ? Promise.reject(new Error(`connect ECONNREFUSED while handling ${operation}`)) : call(),
  )
  return { store, state }
}

describe('shardedStore placement and movement (property)', () => {
  it('a join moves exactly the sessions whose ring owner changed, all to the new node; a leave only the leaver’s', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 50, max: 400 }), fc.integer({ min: 0, max: 2 ** 31 }), async (n, count, ringSeed) => {
        const names = Array.from({ length: n }, (_, i) => `node-${ringSeed}-${i}`)
        const nodes: Map<string, SessionStore> = memoryNodes(names)
        const store = shardedStore({ nodes: [...nodes].map(([name, s]) => ({ name, store: s })), seed: ringSeed >>> 1, vnodes: 200 })
        const ids = await seed(store, count)
        const before = await placement(nodes, ids)
        for (const [id, holders] of before) assert.deepEqual(holders, [store.ownerOf(id)], 'each session on its owner only')

        const joined = memoryStore()
        nodes.set('joined', joined)
        const join = await store.addNode('joined', joined).done
        const afterJoin = await placement(nodes, ids)
        let moved = 0
        for (const id of ids) {
          const [was] = before.get(id) as string[]
          const now = afterJoin.get(id) as string[]
          assert.equal(now.length, 1, 'on exactly one node')
          if (now[0] !== was) {
            moved++
            assert.equal(now[0], 'joined', 'nothing moves between nodes that stay')
          }
          assert.equal(now[0], store.ownerOf(id))
        }
        assert.equal(join.total, moved)
        assert.equal(join.moved + join.skipped, join.total)
        assert.equal(join.remaining, 0)

        const leaver = names[0] as string
        const leave = await store.removeNode(leaver).done
        nodes.delete(leaver)
        const afterLeave = await placement(nodes, ids)
        for (const id of ids) {
          const was = (afterJoin.get(id) as string[])[0]
          const now = afterLeave.get(id) as string[]
          assert.equal(now.length, 1)
          if (was !== leaver) assert.equal(now[0], was, 'only the leaver’s sessions move')
        }
        assert.equal(leave.total, ids.filter((id) => (afterJoin.get(id) as string[])[0] === leaver).length)
        for (const id of ids) assert.equal((await store.load(id, Date.now()))?.attributes.get('n') !== undefined, true)
      }),
      { numRuns: 25 },
    )
  })

  it('spreads sessions like the ring: max/mean load and the share a join moves', async (t) => {
    const names = Array.from({ length: 10 }, (_, i) => `10.0.0.${i}:6379`)
    const nodes = memoryNodes(names)
    const store = shardedStore({ nodes: Object.fromEntries(nodes) })
    const ids = await seed(store, 5_000)
    const counts = await Promise.all([...nodes.values()].map((s) => s.count(Date.now())))
    const ratio = Math.max(...counts) / (ids.length / names.length)
    const join = await store.addNode('10.0.0.10:6379', memoryStore()).done
    const share = join.total / ids.length / (1 / 11)
    t.diagnostic(`5,000 sessions on 10 nodes: max/mean ${ratio.toFixed(3)}; a join moved ${join.total} (${share.toFixed(3)} x 1/(n+1))`)
    // 5,000 keys add ~4% sampling noise per node on top of the ring's own spread.
    assert.ok(ratio < 1.3, `max/mean ${ratio}`)
    assert.ok(share > 0.7 && share < 1.3, `moved ${share} x 1/(n+1)`)
  })
})

describe('shardedStore rebalance under traffic (memory nodes)', () => {
  it('every read finds its session, writes made during the move are kept, no session lost or duplicated', async () => {
    const nodes = memoryNodes(['a', 'b', 'c'])
    const progress: RebalanceProgress[] = []
    const store = shardedStore({ nodes: Object.fromEntries(nodes), concurrency: 4, batchSize: 50, onProgress: (p) => progress.push({ ...p }) })
    const ids = await seed(store, 2_000)
    const d = memoryStore()
    const rebalance = store.addNode('d', d)
    assert.throws(() => store.addNode('e', memoryStore()), RebalanceInProgressError)
    let missed = 0
    let reads = 0
    let writes = 0
    let finished = false
    const written = new Map<string, string>()
    const traffic = async (worker: number) => {
      for (let i = worker; !finished; i += 7) {
        const id = ids[i % ids.length] as string
        if (i % 3 === 0) {
          const value = `w${worker}-${i}`
          await store.apply(id, delta({ [`w${worker}`]: JSON.stringify(value) }))
          written.set(`${id}/w${worker}`, JSON.stringify(value))
          writes++
        } else {
          reads++
          if (!(await store.load(id, Date.now(), { touchIntervalMs: 0 }))) missed++
        }
      }
    }
    const workers = Array.from({ length: 6 }, (_, w) => traffic(w))
    const done = await rebalance.done
    finished = true
    await Promise.all(workers)
    assert.equal(missed, 0, `${missed} of ${reads} reads found nothing`)
    assert.ok(writes > 0 && reads > 0)
    nodes.set('d', d)
    const where = await placement(nodes, ids)
    for (const [id, holders] of where) assert.deepEqual(holders, [store.ownerOf(id)], 'exactly one copy, on the owner')
    for (const [key, value] of written) {
      const [id, name] = key.split('/') as [string, string]
      assert.equal((await store.load(id, Date.now()))?.attributes.get(name), value)
    }
    assert.equal(done.phase, 'done')
    assert.equal(done.remaining, 0)
    assert.equal(done.moved + done.skipped, done.total)
    assert.deepEqual([...new Set(progress.map((p) => p.phase))], ['draining', 'scanning', 'moving', 'done'])
    assert.equal(store.rebalance, null)
  })

  it('two instances running the same rebalance, with traffic on both, lose and duplicate nothing', async () => {
    const nodes = memoryNodes(['a', 'b', 'c'])
    const one = shardedStore({ nodes: Object.fromEntries(nodes), concurrency: 8, batchSize: 25 })
    const two = shardedStore({ nodes: Object.fromEntries(nodes), concurrency: 8, batchSize: 25 })
    const ids = await seed(one, 1_500)
    const destroyed = new Set(ids.slice(0, 100))
    const d = memoryStore()
    const r1 = one.addNode('d', d)
    const r2 = two.addNode('d', d)
    let missed = 0
    let finished = false
    const traffic = async (store: ShardedStore, worker: number) => {
      for (let i = worker; !finished; i += 5) {
        const id = ids[100 + (i % (ids.length - 100))] as string
        if (i % 2 === 0) await store.apply(id, delta({ last: JSON.stringify(i) }))
        else if (!(await store.load(id, Date.now()))) missed++
      }
    }
    const workers = [0, 1, 2].flatMap((w) => [traffic(one, w), traffic(two, w + 3)])
    // Logouts during the move, half on each instance: they must stick.
    await Promise.all([...destroyed].map((id, i) => (i % 2 ? one : two).destroy(id)))
    await Promise.all([r1.done, r2.done])
    finished = true
    await Promise.all(workers)
    assert.equal(missed, 0)
    nodes.set('d', d)
    const where = await placement(nodes, ids)
    for (const [id, holders] of where) {
      if (destroyed.has(id)) assert.deepEqual(holders, [], 'a destroyed session stays destroyed')
      else assert.deepEqual(holders, [one.ownerOf(id)], 'exactly one copy, on the owner')
    }
    assert.equal(await one.count(Date.now()), ids.length - destroyed.size)
  })

  it('removing a node drains it, and sessions made during the move land on their new owner', async () => {
    const nodes = memoryNodes(['a', 'b', 'c', 'd'])
    const store = shardedStore({ nodes: Object.fromEntries(nodes) })
    const ids = await seed(store, 800, 'user:rm')
    const removal = store.removeNode('b')
    const fresh = await seed(store, 50, 'user:rm')
    await removal.done
    assert.equal(await (nodes.get('b') as Store).count(Date.now()), 0, 'the removed node is empty')
    assert.deepEqual(store.nodes, ['a', 'c', 'd'])
    assert.equal(store.storeOf('b'), undefined)
    nodes.delete('b')
    const where = await placement(nodes, [...ids, ...fresh])
    for (const [id, holders] of where) assert.deepEqual(holders, [store.ownerOf(id)])
    assert.equal((await store.findByPrincipal('user:rm', Date.now())).length, 850)
  })

  it('changeId during a rebalance moves the session to the new id’s owner and refuses a taken id', async () => {
    const nodes = memoryNodes(['a', 'b', 'c'])
    const store = shardedStore({ nodes: Object.fromEntries(nodes), concurrency: 1, batchSize: 10 })
    const ids = await seed(store, 300)
    const d = memoryStore()
    const rebalance = store.addNode('d', d)
    const renamed = new Map<string, string>()
    for (const id of ids.slice(0, 60)) {
      const next = sessionRecord().id
      assert.equal(await store.changeId(id, next, Date.now()), true)
      renamed.set(id, next)
    }
    await assert.rejects(store.changeId(ids[100] as string, ids[101] as string, Date.now()), SessionExistsError)
    await rebalance.done
    nodes.set('d', d)
    for (const [old, next] of renamed) {
      assert.equal(await store.load(old, Date.now()), null)
      assert.equal((await store.load(next, Date.now()))?.id, next)
    }
    const where = await placement(nodes, [...renamed.values(), ...renamed.keys(), ...ids.slice(60)])
    for (const [id, holders] of where) assert.deepEqual(holders, renamed.has(id) ? [] : [store.ownerOf(id)])
  })
})

describe('the move protocol', () => {
  const call: (nodes: Map<string, SessionStore>) => NodeCall = (nodes) => (node, _op, _id, fn) => fn(withFallbacks(nodes.get(node) as SessionStore))

  it('a write that reaches the old node after the copy is replayed onto the new owner', async () => {
    const from = memoryStore()
    const plain = memoryStore()
    const s = sessionRecord({ attributes: new Map([['keep', '1'], ['drop', '2']]) })
    await from.create(s)
    let late = false
    // The destination's create is followed, before the mover goes on, by a writer still on the old ring.
    const to: SessionStore = {
      ...plain,
      create: async (x) => {
        await plain.create(x)
        if (!late) {
          late = true
          await from.apply(s.id, delta({ late: '"yes"', drop: null }, { principal: 'user:late' }))
        }
      },
    }
    const nodes = new Map<string, SessionStore>([['from', from], ['to', to]])
    assert.equal(await moveSession(call(nodes), s.id, 'from', 'to', Date.now()), 'moved')
    assert.equal(await from.load(s.id, Date.now()), null)
    const moved = await plain.load(s.id, Date.now())
    assert.equal(moved?.attributes.get('late'), '"yes"')
    assert.equal(moved?.attributes.has('drop'), false)
    assert.equal(moved?.attributes.get('keep'), '1')
    assert.equal(moved?.principal, 'user:late')
    assert.deepEqual(await plain.findByPrincipal('user:late', Date.now()), [s.id])
    assert.deepEqual(await from.findByPrincipal('user:late', Date.now()), [])
  })

  it('a destroy on the old node during the move is not undone', async () => {
    const from = memoryStore()
    const plain = memoryStore()
    const s = sessionRecord()
    await from.create(s)
    const to: SessionStore = {
      ...plain,
      create: async (x) => {
        await plain.create(x)
        await from.destroy(s.id) // another instance logs the user out between copy and retire
      },
    }
    const nodes = new Map<string, SessionStore>([['from', from], ['to', to]])
    assert.equal(await moveSession(call(nodes), s.id, 'from', 'to', Date.now()), 'destroyed')
    assert.equal(await plain.load(s.id, Date.now()), null)
    assert.equal(await from.load(s.id, Date.now()), null)
  })

  it('a second mover that finds the copy already made leaves the retire to the first', async () => {
    const from = memoryStore()
    const to = memoryStore()
    const s = sessionRecord()
    await from.create(s)
    await to.create(s)
    const nodes = new Map<string, SessionStore>([['from', from], ['to', to]])
    assert.equal(await moveSession(call(nodes), s.id, 'from', 'to', Date.now()), 'elsewhere')
    assert.ok(await from.load(s.id, Date.now()))
    assert.equal(await moveSession(call(nodes), sessionRecord().id, 'from', 'to', Date.now()), 'absent')
  })
})

describe('shardedStore with a node down', () => {
  it('fails only that node’s sessions, with NodeUnavailableError naming the node and never the session', async () => {
    const down = switchable(memoryStore())
    const store = shardedStore({ nodes: { a: memoryStore(), b: down.store, c: memoryStore() } })
    const ids = await seed(store, 300, 'user:down')
    down.state.down = true
    const onB = ids.filter((id) => store.ownerOf(id) === 'b')
    const elsewhere = ids.filter((id) => store.ownerOf(id) !== 'b')
    assert.ok(onB.length > 0 && elsewhere.length > 0)
    for (const id of elsewhere) {
      assert.ok(await store.load(id, Date.now()))
      await store.apply(id, delta({ x: '1' }))
    }
    for (const id of onB) {
      await assert.rejects(store.load(id, Date.now()), (e: unknown) => {
        assert.ok(e instanceof NodeUnavailableError)
        assert.ok(e instanceof StoreUnavailableError, 'the manager’s onStoreError policy applies')
        assert.equal(e.node, 'b')
        assert.equal(e.code, 'NODE_UNAVAILABLE')
        assert.equal(e.status, 503)
        assert.match(e.message, /node "b"/)
        assert.ok(!e.message.includes(id), 'the session id stays out of the message')
        assert.ok(e.cause instanceof Error)
        return true
      })
      await assert.rejects(store.apply(id, delta({ x: '1' })), NodeUnavailableError)
    }
    // Fan-outs: a partial "log out everywhere" or count would be wrong, so they fail...
    await assert.rejects(store.findByPrincipal('user:down', Date.now()), NodeUnavailableError)
    await assert.rejects(store.count(Date.now()), NodeUnavailableError)
    // ...except sweep, which must report what it deleted elsewhere.
    down.state.down = false
    const soon = Date.now()
    const expiring = sessionRecord({ expiresAt: soon + 5 })
    await store.create(expiring)
    down.state.down = true
    const failures: NodeUnavailableError[] = []
    const partial = shardedStore({ nodes: { a: memoryStore(), b: down.store, c: memoryStore() }, onError: (e) => failures.push(e) })
    const other = sessionRecord({ expiresAt: soon + 5 })
    const owner = partial.ownerOf(other.id)
    if (owner !== 'b') {
      await partial.create(other)
      assert.deepEqual((await partial.sweep(soon + 10)).map((e) => e.id), [other.id])
      assert.equal(failures[0]?.node, 'b')
    }
    down.state.down = false
    assert.equal(await store.count(soon), ids.length + 1) // at `soon`: `expiring` counts however slow this run was
  })

  it('a node that fails during a rebalance holds it open (reads of its sessions fail, others work) and it finishes once the node is back', async () => {
    const flaky = switchable(memoryStore())
    const store = shardedStore({ nodes: { a: memoryStore(), b: flaky.store, c: memoryStore() } })
    const ids = await seed(store, 400)
    flaky.state.down = true
    const seen: RebalanceProgress[] = []
    const rebalance = store.addNode('d', memoryStore())
    const unaffected = ids.filter((id) => store.ownerOf(id) !== 'b' && new HashRing({ nodes: ['a', 'b', 'c'] }).owner(id) !== 'b')
    for (const id of unaffected) assert.ok(await store.load(id, Date.now()))
    // Poll the progress until the migrator has met the failure (it retries with backoff).
    const deadline = Date.now() + 10_000
    while (rebalance.progress.errors === 0) {
      assert.ok(Date.now() < deadline, 'the migrator never reported the failure')
      await new Promise((r) => setTimeout(r, 1))
    }
    seen.push(rebalance.progress)
    assert.match(seen[0]?.lastError?.message ?? '', /node "b"/)
    flaky.state.down = false
    const done = await rebalance.done
    assert.equal(done.remaining, 0)
    for (const id of ids) assert.ok(await store.load(id, Date.now()))
  })
})

describe('shardedStore API', () => {
  it('scan cursors name the node and its own cursor, and resume across calls', async () => {
    const store = shardedStore({ nodes: { a: memoryStore(), b: memoryStore(), c: memoryStore() } })
    const ids = await seed(store, 40)
    const first = await store.scan({ limit: 5, now: Date.now() })
    assert.ok(first.cursor)
    const [node] = JSON.parse(first.cursor) as [string, string | null]
    assert.ok(['a', 'b', 'c'].includes(node))
    const seen = new Set(first.sessions.map((s) => s.id))
    let cursor: string | null = first.cursor
    while (cursor !== null) {
      const page = await store.scan({ cursor, limit: 5, now: Date.now() })
      for (const s of page.sessions) {
        assert.ok(!seen.has(s.id))
        seen.add(s.id)
      }
      cursor = page.cursor
    }
    assert.deepEqual([...seen].sort(), [...ids].sort())
    await assert.rejects(store.scan({ cursor: 'garbage', limit: 5, now: Date.now() }), ConfigurationError)
  })

  it('refuses bad node changes', () => {
    const store = shardedStore({ nodes: [{ name: 'a', store: memoryStore() }, { name: 'b', store: memoryStore(), weight: 2 }] })
    assert.throws(() => store.addNode('a', memoryStore()), ConfigurationError)
    assert.throws(() => store.removeNode('zzz'), ConfigurationError)
    assert.throws(() => shardedStore({ nodes: [] }), ConfigurationError)
    assert.throws(() => shardedStore({ nodes: { a: memoryStore() }, concurrency: 0 }), ConfigurationError)
    const quick = store.removeNode('b', { drain: false })
    assert.equal(quick.progress.phase, 'done')
    assert.deepEqual(store.nodes, ['a'])
    assert.throws(() => store.removeNode('a'), ConfigurationError)
  })

  it('close() stops a rebalance in progress and rejects its done', async () => {
    const down = switchable(memoryStore())
    const store = shardedStore({ nodes: { a: memoryStore(), b: down.store } })
    await seed(store, 50)
    down.state.down = true
    const rebalance = store.addNode('c', memoryStore())
    await store.close()
    await assert.rejects(rebalance.done, StoreUnavailableError)
  })
})
