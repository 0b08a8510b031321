import { ConfigurationError, SessionMeshError, StoreUnavailableError } from '../core/errors.js'
import { type CompleteStore, withFallbacks } from '../core/fallbacks.js'
import type { ScanPage, SessionStore, StoredSession, StoreWatch, StoreWatchListener } from '../core/store.js'
import { NodeUnavailableError, RebalanceInProgressError } from './errors.js'
import { HashRing } from './hash-ring.js'
import { type MoveOutcome, moveSession, type RebalanceProgress, runMigration, transferId } from './migrator.js'

export type { RebalanceProgress, MoveOutcome } from './migrator.js'

/** One node of a sharded store: a name (its ring id, the same on every instance), its store, a weight. */
export interface ShardNode {
  name: string
  store: SessionStore
  /** Relative capacity, default 1 (see HashRing). */
  weight?: number
}

export interface ShardedStoreOptions {
  /** The nodes, as a list or as `{ name: store }`. Names must be the same on every instance. */
  nodes: ReadonlyArray<ShardNode> | Readonly<Record<string, SessionStore>>
  /** Ring points per unit of weight (default `DEFAULT_VNODES`); every instance must agree. */
  vnodes?: number
  /** Ring hash seed (default 0); every instance must agree. */
  seed?: number
  /** Sessions per scan page while the migrator lists what to move. Default 200. */
  batchSize?: number
  /** Sessions the migrator moves at once. Default 16. */
  concurrency?: number
  /** Called as a rebalance advances (often: after every move). Must not throw. */
  onProgress?: (progress: Readonly<RebalanceProgress>, rebalance: Rebalance) => void
  /** A node failed during `sweep`; the other nodes' results are still returned. Default: ignored. */
  onError?: (error: NodeUnavailableError) => void
}

/** A change of nodes that is moving sessions. */
export interface Rebalance {
  /** Node names before and after the change. */
  readonly from: readonly string[]
  readonly to: readonly string[]
  /** A snapshot of the progress so far. */
  readonly progress: Readonly<RebalanceProgress>
  /** Resolves when every displaced session is on its new owner; rejects if the store is closed first. */
  readonly done: Promise<RebalanceProgress>
}

/** What a sharded store has beyond `SessionStore`: its nodes, and changing them. */
export interface ShardedStoreControl {
  readonly nodes: readonly string[]
  readonly rebalance: Rebalance | null
  ownerOf(id: string): string
  storeOf(name: string): CompleteStore | undefined
  addNode(name: string, store: SessionStore, weight?: number): Rebalance
  removeNode(name: string, options?: { drain?: boolean }): Rebalance
}

/** What one operation routes by: immutable, so an operation sees one ring from start to end. */
interface View {
  readonly gen: number
  readonly ring: HashRing
  /** The ring before the change being migrated; null when none is. */
  readonly prev: HashRing | null
  /** Every node of `ring` and `prev`. */
  readonly stores: ReadonlyMap<string, CompleteStore>
  /** Resolves once operations routed by an older ring have finished: moves wait for it. */
  readonly ready: Promise<void>
}

const resolved = Promise.resolve()

/**
 * The routing core: which node owns an id, the fallback to its previous owner during a
 * rebalance (moving the session on access), per-session locks so this process never runs two
 * moves of one session at once, and the count of operations in flight per ring generation.
 */
class Router {
  view: View
  /** Operations in flight routed by the current generation, and by older ones. */
  #current = 0
  #older = 0
  #drained: (() => void) | null = null
  #locks = new Map<string, Promise<void>>()
  /** Every store ever a node, so an operation routed by an older view can still reach a node removed since. */
  #known = new Map<string, CompleteStore>()
  movedOnAccess = 0

  constructor(ring: HashRing, stores: Map<string, CompleteStore>) {
    this.view = { gen: 0, ring, prev: null, stores, ready: resolved }
    for (const [name, store] of stores) this.#known.set(name, store)
  }

  /** Runs `op` on node `node`; failures other than store refusals become NodeUnavailableError naming the node. */
  readonly call = async <T>(node: string, op: string, id: string | undefined, fn: (store: CompleteStore) => Promise<T>): Promise<T> => {
    const store = this.view.stores.get(node) ?? this.#known.get(node)
    if (!store) throw new NodeUnavailableError(node, op, new Error('no such node'))
    try {
      return await fn(store)
    } catch (e) {
      if (e instanceof NodeUnavailableError) throw e
      if (e instanceof SessionMeshError && !(e instanceof StoreUnavailableError)) throw e
      throw new NodeUnavailableError(node, op, e, id)
    }
  }

  /** Counts `op` against the generation it was routed by, so a ring change can wait for it. */
  async tracked<T>(op: (view: View) => Promise<T>): Promise<T> {
    const view = this.view
    this.#current++
    try {
      return await op(view)
    } finally {
      if (view.gen === this.view.gen) this.#current--
      else if (--this.#older === 0 && this.#drained) {
        this.#drained()
        this.#drained = null
      }
    }
  }

  /** Switches to `ring`, keeping `prev` to fall back to (and `stores` for both). */
  change(ring: HashRing, prev: HashRing | null, stores: Map<string, CompleteStore>): View {
    for (const [name, store] of stores) this.#known.set(name, store)
    this.#older += this.#current
    this.#current = 0
    const ready = this.#older === 0 ? resolved : new Promise<void>((r) => (this.#drained = r))
    this.view = { gen: this.view.gen + 1, ring, prev, stores, ready }
    return this.view
  }

  /** The migration is over: no more fallback. Same generation (nothing needs draining). */
  settle(stores: Map<string, CompleteStore>): void {
    this.view = { ...this.view, prev: null, stores }
  }

  /** Runs `fn` with this process's lock on `id` (a queue per id; nothing kept once idle). */
  async locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#locks.get(id) ?? resolved
    let release!: () => void
    const mine = new Promise<void>((r) => (release = r))
    const tail = before.then(() => mine)
    this.#locks.set(id, tail)
    await before
    try {
      return await fn()
    } finally {
      release()
      if (this.#locks.get(id) === tail) this.#locks.delete(id)
    }
  }

  /** Moves `id` off its previous owner if it is still there (after the drain, under the lock). */
  async move(view: View, id: string, from: string, to: string, now: number): Promise<MoveOutcome> {
    await view.ready
    return this.locked(id, () => moveSession(this.call, id, from, to, now))
  }

  /** The previous owner of `id` if it differs from the owner (a rebalance is moving it), else null. */
  static moving(view: View, id: string, to: string): string | null {
    if (view.prev === null) return null
    const from = view.prev.owner(id)
    return from === to ? null : from
  }

  /**
   * The routing helper every per-session operation goes through: during a rebalance, first
   * moves the session from its previous owner if it is still there, then runs `fn` on the owner.
   */
  onOwner<T>(id: string, now: number | undefined, op: string, fn: (store: CompleteStore) => Promise<T>): Promise<T> {
    return this.tracked(async (view) => {
      const to = view.ring.owner(id)
      const from = Router.moving(view, id, to)
      if (from !== null) await this.#countMove(this.move(view, id, from, to, now ?? Date.now()))
      return this.call(to, op, id, fn)
    })
  }

  /**
   * A read: the owner first; during a rebalance, if the owner has nothing, the previous owner
   * (moving the session from there) and then the owner again. A mover copies before it
   * retires the source, so a session in flight is on one of the two at every instant, and
   * owner - previous owner - owner cannot miss it.
   */
  read(id: string, now: number, fn: (store: CompleteStore) => Promise<StoredSession | null>): Promise<StoredSession | null> {
    return this.tracked(async (view) => {
      const to = view.ring.owner(id)
      const found = await this.call(to, 'load', id, fn)
      if (found !== null) return found
      const from = Router.moving(view, id, to)
      if (from === null) return null
      await this.#countMove(this.move(view, id, from, to, now))
      return this.call(to, 'load', id, fn)
    })
  }

  async #countMove(move: Promise<MoveOutcome>): Promise<void> {
    if ((await move) === 'moved') this.movedOnAccess++
  }
}

/**
 * A session store made of several independent stores (several `redisStore({ url })`s, say),
 * each session living on its `HashRing` owner by session id. Nodes can be added and removed
 * online: about 1/(n+1) of the sessions move on a join, none between nodes that stay; reads
 * fall back to the previous owner (moving what they find) while a background migrator moves
 * the rest, so nobody is logged out. A node that is down fails only the sessions it owns, with
 * `NodeUnavailableError`. Guarantees and assumptions: docs/RING.md.
 *
 * @example
 * const store = shardedStore({
 *   nodes: { 'redis-a': redisStore({ url: A }), 'redis-b': redisStore({ url: B }), 'redis-c': redisStore({ url: C }) },
 *   onProgress: (p) => log.info(`rebalance ${p.phase}: ${p.moved}/${p.total}, ${p.remaining} to go`),
 * })
 * const sessions = createSessions({ store, secret })
 * const rebalance = store.addNode('redis-d', redisStore({ url: D }))
 * await rebalance.done
 */
export function shardedStore(options: ShardedStoreOptions) {
  const nodes: ReadonlyArray<ShardNode> = Array.isArray(options.nodes)
    ? (options.nodes as ReadonlyArray<ShardNode>)
    : Object.entries(options.nodes as Record<string, SessionStore>).map(([name, store]) => ({ name, store }))
  if (nodes.length === 0) throw new ConfigurationError('shardedStore: give at least one node')
  const stores = new Map<string, CompleteStore>()
  for (const n of nodes) {
    if (!n || typeof n.store?.load !== 'function') throw new ConfigurationError(`shardedStore: node "${n?.name}" has no store`)
    stores.set(n.name, withFallbacks(n.store))
  }
  // The change feed passes through when every node has one (a sharded Redis fleet needs no bus).
  const watchable = [...stores.values()].every((s) => typeof s.watch === 'function')
  const feeds = new Set<ShardFeeds>()
  const ring = new HashRing({
    vnodes: options.vnodes,
    seed: options.seed,
    nodes: nodes.map((n) => ({ id: n.name, weight: n.weight ?? 1 })),
  })
  const batchSize = options.batchSize ?? 200
  const concurrency = options.concurrency ?? 16
  for (const [name, v] of [['batchSize', batchSize], ['concurrency', concurrency]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new ConfigurationError(`shardedStore: ${name} must be a whole number >= 1`)
  }
  const router = new Router(ring, stores)
  const closing = new AbortController()
  let current: Rebalance | null = null

  /** Applies a ring change and starts moving what it displaced. */
  const rebalance = (after: HashRing, added: [string, CompleteStore] | null, removed: string | null, drain: boolean): Rebalance => {
    if (current) throw new RebalanceInProgressError()
    const view = router.view
    const all = new Map(view.stores)
    if (added) {
      all.set(added[0], added[1])
      for (const f of feeds) f.follow(added[0], added[1])
    }
    const kept = new Map(all)
    if (removed !== null) kept.delete(removed)
    const progress: RebalanceProgress = { phase: 'done', scanned: 0, total: 0, moved: 0, skipped: 0, remaining: 0, movedOnAccess: 0, errors: 0 }
    const from = view.ring.nodes
    const to = after.nodes
    if (!drain) {
      router.change(after, null, kept)
      for (const f of feeds) f.unfollowOthers(kept)
      return { from, to, progress, done: Promise.resolve(progress) }
    }
    const next = router.change(after, view.ring, all)
    const accessBase = router.movedOnAccess
    const handle: Rebalance = {
      from,
      to,
      get progress() {
        return { ...progress, movedOnAccess: router.movedOnAccess - accessBase }
      },
      done: undefined as unknown as Promise<RebalanceProgress>,
    }
    const report = () => {
      progress.movedOnAccess = router.movedOnAccess - accessBase
      options.onProgress?.(progress, handle)
    }
    const run = runMigration({
      before: view.ring,
      after,
      ready: next.ready,
      move: (id, f, t) => router.move(next, id, f, t, Date.now()),
      call: router.call,
      batchSize,
      concurrency,
      progress,
      report,
      signal: closing.signal,
    }).then(
      () => {
        router.settle(kept)
        for (const f of feeds) f.unfollowOthers(kept)
        progress.phase = 'done'
        current = null
        report()
        return { ...progress }
      },
      (e: unknown) => {
        progress.phase = 'stopped'
        current = null
        report()
        throw e
      },
    )
    run.catch(() => {}) // the caller may never await `done`; close() is the only way it rejects
    Object.defineProperty(handle, 'done', { value: run })
    current = handle
    return handle
  }

  /** Nodes in name order: the order scan walks them in, whatever order they were added in. */
  const sortedNodes = (view: View) => [...view.stores.keys()].sort()

  /** Whether node `node`'s record of `id` counts (see findByPrincipal, scan and sweep). */
  const belongs = (view: View, id: string, node: string) => view.ring.owner(id) === node || view.prev?.owner(id) === node

  return {
    kind: 'sharded',
    atomic: true as const,

    ...(watchable
      ? {
          /** Every node's change feed, merged: delivering only while all of them are. */
          watch(listener: StoreWatchListener): StoreWatch {
            const group = new ShardFeeds(listener)
            for (const [name, store] of router.view.stores) group.follow(name, store)
            feeds.add(group)
            return {
              close: async () => {
                feeds.delete(group)
                await group.close()
              },
            }
          },
        }
      : {}),

    /** Names of the nodes on the ring now. */
    get nodes(): readonly string[] {
      return router.view.ring.nodes
    },

    /** The rebalance in progress, or null. */
    get rebalance(): Rebalance | null {
      return current
    },

    /** The node that owns `id` now. */
    ownerOf(id: string): string {
      return router.view.ring.owner(id)
    },

    /** A node's own store (for tests and tools that inspect one node), or undefined. */
    storeOf(name: string): CompleteStore | undefined {
      return router.view.stores.get(name)
    },

    /**
     * Adds a node and starts moving the sessions it now owns (about 1/(n+1) of them, all from
     * the other nodes, none between them). RebalanceInProgressError while a change is moving.
     */
    addNode(name: string, store: SessionStore, weight = 1): Rebalance {
      if (router.view.stores.has(name)) throw new ConfigurationError(`shardedStore: node "${name}" already exists`)
      if (typeof store?.load !== 'function') throw new ConfigurationError(`shardedStore: node "${name}" has no store`)
      const after = router.view.ring.clone()
      after.add(name, { weight })
      return rebalance(after, [name, withFallbacks(store)], null, true)
    },

    /**
     * Removes a node, moving its sessions to the nodes that now own them. Its store stays
     * open until `done` (it is read from meanwhile); closing it afterwards is the caller's job.
     * `{ drain: false }` drops the node at once without moving anything: its sessions are lost
     * (for a node that is gone for good).
     */
    removeNode(name: string, removeOptions: { drain?: boolean } = {}): Rebalance {
      if (!router.view.ring.has(name)) throw new ConfigurationError(`shardedStore: node "${name}" is not on the ring`)
      if (router.view.ring.size === 1) throw new ConfigurationError('shardedStore: cannot remove the last node')
      const after = router.view.ring.clone()
      after.remove(name)
      return rebalance(after, null, name, removeOptions.drain ?? true)
    },

    load: (id, now, loadOptions?) => router.read(id, now, (s) => s.load(id, now, loadOptions)),

    create: (session) => router.onOwner(session.id, session.lastAccessedAt, 'create', (s) => s.create(session)),

    apply: (id, delta, conditions?) => router.onOwner(id, delta.lastAccessedAt, 'apply', (s) => s.apply(id, delta, conditions)),

    touch: (id, lastAccessedAt, expiresAt) => router.onOwner(id, lastAccessedAt, 'touch', (s) => s.touch(id, lastAccessedAt, expiresAt)),

    // Leases live beside the session on its node and are not moved with it: a lease on a
    // session that moves is lost, but its fence moves with the session (see docs/RING.md).
    lock: (id, owner, ttlMs, now) => router.onOwner(id, now, 'lock', (s) => s.lock(id, owner, ttlMs, now)),

    extendLock: (id, owner, ttlMs, now) => router.onOwner(id, now, 'extendLock', (s) => s.extendLock(id, owner, ttlMs, now)),

    unlock: (id, owner) => router.onOwner(id, undefined, 'unlock', (s) => s.unlock(id, owner)),

    raiseFence: (id, now) => router.onOwner(id, now, 'raiseFence', (s) => s.raiseFence(id, now)),

    destroy(id) {
      return router.tracked(async (view) => {
        const to = view.ring.owner(id)
        const from = Router.moving(view, id, to)
        if (from === null) return router.call(to, 'destroy', id, (s) => s.destroy(id))
        // Both copies, the old one first: a reader that finds the owner empty afterwards
        // cannot find (and move back) an old copy either. A mover on another instance that
        // copied before this sees its retire fail and destroys its copy.
        await view.ready
        return router.locked(id, async () => {
          const old = await router.call(from, 'destroy', id, (s) => s.destroy(id))
          const owned = await router.call(to, 'destroy', id, (s) => s.destroy(id))
          return old || owned
        })
      })
    },

    changeId(oldId, newId, now) {
      return router.tracked(async (view) => {
        const from = view.ring.owner(oldId)
        const to = view.ring.owner(newId)
        for (const [id, owner] of [[oldId, from], [newId, to]] as const) {
          const previous = Router.moving(view, id, owner)
          // The new id too: a live copy of it on its previous owner must make this refuse.
          if (previous !== null) await router.move(view, id, previous, owner, now)
        }
        if (from === to) return router.call(from, 'changeId', oldId, (s) => s.changeId(oldId, newId, now))
        const moved = await transferId(router.call, oldId, newId, from, to, now)
        // The old node announced the retire as a write (its copy expired, then was removed);
        // watchers are told the id is gone, as a changeId on one node would say.
        if (moved) for (const f of feeds) f.announce(oldId, null)
        return moved
      })
    },

    async findByPrincipal(principal, now) {
      const view = router.view
      const names = sortedNodes(view)
      const lists = await Promise.all(names.map((n) => router.call(n, 'findByPrincipal', undefined, (s) => s.findByPrincipal(principal, now))))
      // Mid-move a session is on two nodes; a copy left where it does not belong is never counted.
      const ids = new Set<string>()
      lists.forEach((list, i) => {
        for (const id of list) if (belongs(view, id, names[i] as string)) ids.add(id)
      })
      return [...ids]
    },

    async scan({ cursor, limit, now }): Promise<ScanPage> {
      const view = router.view
      const names = sortedNodes(view)
      let [node, inner] = parseCursor(cursor ?? null)
      let index = node === null ? 0 : names.findIndex((n) => n >= (node as string))
      // A node removed since the cursor was made: continue with the next one by name.
      if (index !== -1 && names[index] !== node) inner = null
      const sessions: StoredSession[] = []
      const max = Math.max(1, Math.floor(limit))
      while (index !== -1 && index < names.length && sessions.length < max) {
        node = names[index] as string
        const at = inner
        const page = await router.call(node, 'scan', undefined, (s) => s.scan({ cursor: at, limit: max - sessions.length, now }))
        sessions.push(...(await owned(view, node, page.sessions, now)))
        if (page.cursor !== null) {
          inner = page.cursor
          if (sessions.length >= max) return { sessions, cursor: JSON.stringify([node, inner]) }
        } else {
          index++
          inner = null
        }
      }
      const rest = index !== -1 && index < names.length ? (names[index] as string) : null
      return { sessions, cursor: rest === null ? null : JSON.stringify([rest, inner]) }
    },

    async sweep(now, limit = Number.POSITIVE_INFINITY) {
      const view = router.view
      const out: Array<{ id: string; principal: string | null }> = []
      let failed: NodeUnavailableError | null = null
      for (const node of sortedNodes(view)) {
        const room = limit - out.length
        if (room <= 0) break
        let swept: Array<{ id: string; principal: string | null }>
        try {
          swept = await router.call(node, 'sweep', undefined, (s) => s.sweep(now, room))
        } catch (e) {
          if (!(e instanceof NodeUnavailableError)) throw e
          failed ??= e
          options.onError?.(e)
          continue
        }
        for (const e of swept) {
          // A record left behind by a move (retired, or a copy) is not an expiry when its owner still has the session.
          const owner = view.ring.owner(e.id)
          if (owner !== node && (await router.call(owner, 'sweep', e.id, (s) => s.load(e.id, now))) !== null) continue
          out.push(e)
        }
      }
      // Nothing swept anywhere else: report the outage rather than "nothing expired".
      if (failed && out.length === 0) throw failed
      return out
    },

    async count(now) {
      const view = router.view
      const counts = await Promise.all(sortedNodes(view).map((n) => router.call(n, 'count', undefined, (s) => s.count(now))))
      return counts.reduce((a, b) => a + b, 0)
    },

    async close() {
      closing.abort()
      await Promise.all([...feeds].map((f) => f.close()))
      feeds.clear()
      await current?.done.catch(() => {})
      await Promise.all([...router.view.stores.values()].map((s) => s.close()))
    },
  } satisfies SessionStore & ShardedStoreControl

  /** The sessions of a scan page that belong to `node`; during a rebalance, old copies only while the owner lacks them. */
  async function owned(view: View, node: string, page: StoredSession[], now: number): Promise<StoredSession[]> {
    const checks = await Promise.all(
      page.map(async (s) => {
        const owner = view.ring.owner(s.id)
        if (owner === node) return true
        if (view.prev?.owner(s.id) !== node) return false
        return (await router.call(owner, 'scan', s.id, (st) => st.load(s.id, now))) === null
      }),
    )
    return page.filter((_, i) => checks[i])
  }
}

/** One `watch` of a sharded store: a feed per node, delivering only while every node's is. */
class ShardFeeds {
  readonly #listener: StoreWatchListener
  readonly #nodes = new Map<string, { up: boolean; watch: StoreWatch | null }>()
  #reported: boolean | null = null

  constructor(listener: StoreWatchListener) {
    this.#listener = listener
  }

  follow(name: string, store: SessionStore): void {
    if (this.#nodes.has(name)) return
    const feed: { up: boolean; watch: StoreWatch | null } = { up: false, watch: null }
    this.#nodes.set(name, feed)
    // A node without a feed keeps the whole feed down: its changes would go unannounced.
    feed.watch =
      store.watch?.({
        changed: (id, version) => this.#listener.changed(id, version),
        status: (connected) => {
          feed.up = connected
          this.#report()
        },
      }) ?? null
    this.#report()
  }

  /** A change the sharded store itself knows of (an id moved between nodes). */
  announce(id: string, version: number | null): void {
    this.#listener.changed(id, version)
  }

  /** Stops following the nodes that left the ring. */
  unfollowOthers(kept: ReadonlyMap<string, unknown>): void {
    for (const [name, feed] of this.#nodes) {
      if (kept.has(name)) continue
      this.#nodes.delete(name)
      void feed.watch?.close().catch(() => {})
    }
    this.#report()
  }

  #report(): void {
    const up = [...this.#nodes.values()].every((f) => f.up)
    if (up === this.#reported) return
    this.#reported = up
    this.#listener.status(up)
  }

  async close(): Promise<void> {
    const all = [...this.#nodes.values()]
    this.#nodes.clear()
    await Promise.all(all.map((f) => f.watch?.close() ?? Promise.resolve()))
  }
}

/** The store `shardedStore` returns. */
export type ShardedStore = ReturnType<typeof shardedStore>

/** A scan cursor is `[node, node's own cursor]` as JSON; null starts at the first node. */
function parseCursor(cursor: string | null): [string | null, string | null] {
  if (cursor === null || cursor === '') return [null, null]
  let parsed: unknown
  try {
    parsed = JSON.parse(cursor)
  } catch {
    throw new ConfigurationError('shardedStore: bad scan cursor')
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || typeof parsed[0] !== 'string' || (parsed[1] !== null && typeof parsed[1] !== 'string')) {
    throw new ConfigurationError('shardedStore: bad scan cursor')
  }
  return [parsed[0], parsed[1] as string | null]
}
