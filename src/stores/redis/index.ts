import { randomBytes } from 'node:crypto'
import {
  ConfigurationError,
  NotReplicatedError,
  SessionNotFoundError,
  StoreUnavailableError,
} from '../../core/errors.js'
import type { ApplyConditions, AttributeChange, LoadOptions, ScanPage, SessionDelta, SessionStore, StoredSession, StoreWatch } from '../../core/store.js'
import { connectRedis, type RedisConnection, type RedisTarget, type Script, scriptRefusal, unavailable } from './connection.js'
import { springSessionStore, type SpringSessionStoreOptions } from '../../interop/spring/store.js'
import { BUCKETS, bucketOf, KeyLayout } from './keys.js'
import { watchChanges } from './watch.js'
import { APPLY, CHANGE_ID, CREATE, DESTROY, EXTEND_LOCK, INDEX_ADD, LEASE, LOAD, LOCK, RAISE_FENCE, REMOVE_IF_VERSION, SWEEP, TOUCH, UNLOCK } from './scripts.js'

export type { RedisTarget } from './connection.js'

export type RedisStoreOptions = RedisTarget & {
  /**
   * `sessionmesh` (default): our layout (see docs/REDIS.md). `spring-session`: Spring Session
   * Data Redis' layout with its JSON serializer, shared with Spring services (docs/MIGRATION.md);
   * use with `springSessionTokens()` and the cookie name `SESSION`.
   */
  layout?: 'sessionmesh' | 'spring-session'
  /** Options of the `spring-session` layout. */
  spring?: SpringSessionStoreOptions
  /** Prefix of every key. Default `sessionmesh:`. Must not contain `{` or `}`. */
  prefix?: string
  /**
   * `async` (default): a save is acknowledged once the primary has it; a failover in the
   * following moment can lose it. `replicated`: a save also waits (WAIT) until one replica
   * has it, or fails with NotReplicatedError. An object sets the count and the wait.
   */
  durability?: 'async' | 'replicated' | { replicas: number; timeoutMs?: number }
  /**
   * How long an expired session's key is kept for the sweeper to report it (with its
   * principal) before Redis drops it by TTL. Default 10 minutes.
   */
  expiredRetentionMs?: number
  /** How long one instance holds the sweeper lease after each sweep. Default 90 s. */
  sweepLeaseMs?: number
  /** Longest wait for the first connection before operations fail with StoreUnavailableError. Default 5 s. */
  connectTimeoutMs?: number
  /** `CLIENT SETNAME` of the change feed's subscriber connection (see `watch`). Default `sessionmesh-changes`. */
  changesClientName?: string
  /**
   * Errors the store lives through without failing a call: connection errors between
   * reconnects (node-redis keeps reconnecting), and the part of a sweep that failed while the
   * rest succeeded (its sessions stay due and the next sweep retries them). Default: ignored.
   */
  onError?: (error: Error) => void
}

type Expired = { id: string; principal: string | null }

const META = new Set(['#c', '#l', '#i', '#it', '#at', '#e', '#p', '#v', '#f'])

/** A store hash (flat field/value list) as a StoredSession. */
function decode(id: string, flat: string[]): StoredSession {
  const attributes = new Map<string, string>()
  const meta: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const field = flat[i] as string
    const value = flat[i + 1] as string
    if (field.startsWith('a:')) attributes.set(field.slice(2), value)
    else if (META.has(field)) meta[field] = value
  }
  const n = (f: string) => Number(meta[f] ?? 0)
  return {
    id,
    attributes,
    createdAt: n('#c'),
    lastAccessedAt: n('#l'),
    idIssuedAt: n('#i'),
    idleTimeoutMs: n('#it'),
    absoluteTimeoutMs: n('#at'),
    expiresAt: n('#e'),
    principal: meta['#p'] ?? null,
    version: n('#v'),
    fence: n('#f'),
  }
}

/** A StoredSession as the hash's field/value list. */
function encode(s: StoredSession): string[] {
  const out = [
    '#c', String(s.createdAt),
    '#l', String(s.lastAccessedAt),
    '#i', String(s.idIssuedAt),
    '#it', String(s.idleTimeoutMs),
    '#at', String(s.absoluteTimeoutMs),
    '#e', String(s.expiresAt),
    '#v', String(s.version),
    '#f', String(s.fence),
  ]
  if (s.principal !== null) out.push('#p', s.principal)
  for (const [name, value] of s.attributes) out.push(`a:${name}`, value)
  return out
}

const deadlineOf = (s: { createdAt: number; absoluteTimeoutMs: number }) => String(s.createdAt + s.absoluteTimeoutMs)


/**
 * Sessions in Redis: standalone, behind Sentinel, or on a Redis Cluster. Each load and
 * each save is one Lua script call (one round trip), atomic on the node that owns the
 * session; a per-user index answers `findByPrincipal`; a sweeper that one instance at a
 * time runs (a lease) reports every expiry exactly once, without keyspace notifications.
 * Needs the optional peer dependency `redis` (node-redis); see docs/REDIS.md.
 *
 * @example
 * import { redisStore } from 'sessionmesh/redis'
 * const store = redisStore({ url: 'redis://localhost:6379' })
 * const store = redisStore({ cluster: { rootNodes: [{ url: 'redis://10.0.0.1:7000' }] } })
 * const store = redisStore({ sentinel: { name: 'mymaster', sentinelRootNodes: [{ host: '10.0.0.5', port: 26379 }] }, durability: 'replicated' })
 */
export function redisStore(options: RedisStoreOptions) {
  const keys = new KeyLayout(options.prefix ?? 'sessionmesh:')
  const retentionMs = options.expiredRetentionMs ?? 10 * 60_000
  const leaseMs = options.sweepLeaseMs ?? 90_000
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000
  const durability =
    options.durability === undefined || options.durability === 'async'
      ? null
      : options.durability === 'replicated'
        ? { replicas: 1, timeoutMs: 1_000 }
        : { replicas: options.durability.replicas, timeoutMs: options.durability.timeoutMs ?? 1_000 }
  if (durability && (!Number.isInteger(durability.replicas) || durability.replicas < 1 || !(durability.timeoutMs > 0))) {
    throw new ConfigurationError('redisStore: durability needs replicas >= 1 and timeoutMs > 0')
  }
  for (const [name, v] of [['expiredRetentionMs', retentionMs], ['sweepLeaseMs', leaseMs], ['connectTimeoutMs', connectTimeoutMs]] as const) {
    if (!Number.isFinite(v) || v <= 0) throw new ConfigurationError(`redisStore: ${name} must be a positive number of milliseconds`)
  }
  if (options.layout !== undefined && options.layout !== 'sessionmesh' && options.layout !== 'spring-session') {
    throw new ConfigurationError(`redisStore: layout must be 'sessionmesh' or 'spring-session'`)
  }
  if (options.layout === 'spring-session' && durability) {
    throw new ConfigurationError(`redisStore: durability is not available with layout 'spring-session'`)
  }
  const leaseOwner = randomBytes(12).toString('base64url')

  let connection: RedisConnection | null = null
  let closed = false
  const aborter = new AbortController()
  const onError = options.onError ?? (() => {})
  /** A failure the store lived through (the call still succeeded), for `onError`. */
  const report = (e: unknown, what: string) => {
    try {
      onError(new StoreUnavailableError(`redis store: ${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e }))
    } catch {
      // A throwing handler must not fail the call: a sweep would lose the report of what it removed.
    }
  }
  const connecting = connectRedis(options, onError, aborter.signal).then((c) => (connection = c))
  connecting.catch(() => {}) // reported to each caller below
  const conn = async (): Promise<RedisConnection> => {
    if (connection) return connection
    if (closed) throw new StoreUnavailableError('redis store: closed')
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreUnavailableError(`redis store: no connection within ${connectTimeoutMs} ms`)), connectTimeoutMs)
    })
    try {
      return await Promise.race([connecting, timeout])
    } catch (e) {
      throw unavailable(e, 'cannot connect')
    } finally {
      clearTimeout(timer)
    }
  }

  const watches = new Set<StoreWatch>()
  const closeConnection = async () => {
    closed = true
    await Promise.all([...watches].map((w) => w.close()))
    if (!connection) aborter.abort()
    const c = connection ?? (await connecting.catch(() => null))
    connection = null
    await c?.close()
  }

  /** A write: with `durability`, pipelined with WAIT on the same connection; too few acks fail it. */
  const write = async <T>(c: RedisConnection, script: Script, k: string[], args: Array<string | number>): Promise<T> => {
    if (!durability) return c.eval<T>(script, k, args)
    const [reply, acked] = await c.evalAndWait<T>(script, k, args, durability.replicas, durability.timeoutMs)
    if (acked < durability.replicas) throw new NotReplicatedError(durability.replicas, acked, durability.timeoutMs)
    return reply
  }

  /** Loads without touching: for changeId, findByPrincipal and scan. */
  const peek = async (c: RedisConnection, id: string, now: number) => {
    const flat = await c.eval<string[] | null>(LOAD, [keys.session(id), keys.expiriesOf(id)], [id, now, -1, retentionMs])
    return flat ? decode(id, flat) : null
  }

  const inline = () => (connection?.mode === 'cluster' ? '' : keys.principalPrefix)
  const indexAdd = (c: RedisConnection, principal: string, id: string, deadline: string, now: number) =>
    c.eval(INDEX_ADD, [keys.principal(principal)], [id, deadline, now])
  const indexRemove = (c: RedisConnection, principal: string, id: string) =>
    c.command(keys.principal(principal), ['ZREM', keys.principal(principal), id])

  /** Cluster: copy to the new id, then remove the old one only if unchanged since the copy. */
  const changeIdAcrossSlots = async (c: RedisConnection, oldId: string, newId: string, now: number): Promise<boolean> => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const old = await peek(c, oldId, now)
      if (!old) return false
      const moved: StoredSession = { ...old, id: newId, idIssuedAt: now }
      if (old.principal !== null) await indexAdd(c, old.principal, newId, deadlineOf(old), now)
      const created = await write(c, CREATE, [keys.session(newId), keys.expiriesOf(newId)], [
        newId, now, old.expiresAt, retentionMs, deadlineOf(old), ...encode(moved),
      ]).catch((e: unknown) => {
        throw scriptRefusal(e, newId)
      })
      void created
      const removed = await write<number>(c, REMOVE_IF_VERSION, [keys.session(oldId), keys.expiriesOf(oldId)], [oldId, old.version, keys.changes])
      if (removed === 1) {
        if (old.principal !== null) await indexRemove(c, old.principal, oldId)
        return true
      }
      // Changed (or destroyed) between copy and removal: undo the copy and look again.
      await write(c, DESTROY, [keys.session(newId), keys.expiriesOf(newId)], [newId, '', keys.changes])
      if (removed === -1) return false
    }
    throw new StoreUnavailableError(`redis store: session kept changing while its id was being changed; try again`)
  }

  /** The ids due in one bucket (a read; the sweep script re-checks each one). */
  const dueIn = (c: RedisConnection, bucket: number, now: number, limit: number) => {
    const zkey = keys.bucketExpiries(bucket)
    return c.command<string[]>(zkey, ['ZRANGEBYSCORE', zkey, '-inf', String(now), 'LIMIT', '0', String(limit)], true)
  }

  const sweepBucket = async (c: RedisConnection, bucket: number, due: string[], now: number): Promise<Expired[]> => {
    const zkey = keys.bucketExpiries(bucket)
    const flat = await write<string[]>(c, SWEEP, [zkey, ...due.map((id) => keys.bucketSession(bucket, id))], [now, ...due])
    const out: Expired[] = []
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ id: flat[i] as string, principal: flat[i + 1] || null })
    return out
  }

  /** Runs `fn` over every bucket, `width` at a time (each bucket is one slot, so Cluster spreads them). */
  const eachBucket = async <T>(fn: (bucket: number) => Promise<T>, width = 32, from = 0): Promise<T[]> => {
    const out: T[] = []
    for (let b = from; b < BUCKETS; b += width) {
      const batch = []
      for (let i = b; i < Math.min(b + width, BUCKETS); i++) batch.push(fn(i))
      out.push(...(await Promise.all(batch)))
    }
    return out
  }

  if (options.layout === 'spring-session') return springLayout(conn, options.spring, closeConnection)

  return {
    kind: 'redis',

    /** The connection, once made (for the change bus and tests). */
    connection: conn,

    async load(id, now, loadOptions?: LoadOptions) {
      const c = await conn()
      const interval = loadOptions?.touchIntervalMs ?? -1
      let flat: string[] | null
      try {
        flat = await c.eval<string[] | null>(LOAD, [keys.session(id), keys.expiriesOf(id)], [id, now, interval, retentionMs])
      } catch (e) {
        throw unavailable(e, 'load failed')
      }
      return flat ? decode(id, flat) : null
    },

    async create(session) {
      const c = await conn()
      const s = session
      const deadline = deadlineOf(s)
      try {
        const k = [keys.session(s.id), keys.expiriesOf(s.id)]
        if (s.principal !== null) {
          if (inline()) k.push(keys.principal(s.principal))
          else await indexAdd(c, s.principal, s.id, deadline, s.lastAccessedAt)
        }
        await write(c, CREATE, k, [s.id, s.lastAccessedAt, s.expiresAt, retentionMs, deadline, ...encode(s)])
      } catch (e) {
        throw scriptRefusal(e, s.id)
      }
    },

    async apply(id, delta: SessionDelta, conditions: ApplyConditions = {}) {
      const c = await conn()
      const args: Array<string | number> = [
        id,
        delta.lastAccessedAt,
        delta.expiresAt,
        retentionMs,
        conditions.expectedVersion ?? '',
        conditions.fence ?? '',
        delta.principal === undefined ? '' : delta.principal === null ? 'c' : 's',
        delta.principal ?? '',
        inline(),
        delta.maxValueBytes ?? '',
        keys.changes,
      ]
      for (const [name, change] of delta.attributes) args.push(...changeArgs(name, change))
      const k = [keys.session(id), keys.expiriesOf(id)]
      const principal = delta.principal
      try {
        if (typeof principal === 'string') {
          if (inline()) {
            k.push(keys.principal(principal))
          } else {
            // Index before the session says so; the deadline is re-read from the session by readers' checks.
            const current = await peek(c, id, delta.lastAccessedAt)
            if (!current) throw new SessionNotFoundError(id)
            await indexAdd(c, principal, id, deadlineOf(current), delta.lastAccessedAt)
          }
        }
        const [version, old, ...computed] = await write<[number, string, ...string[]]>(c, APPLY, k, args)
        if (!inline() && principal !== undefined && old && old !== principal) await indexRemove(c, old, id)
        if (computed.length === 0) return { version: Number(version) }
        const values = new Map<string, string>()
        for (let i = 0; i + 1 < computed.length; i += 2) values.set(computed[i] as string, computed[i + 1] as string)
        return { version: Number(version), values }
      } catch (e) {
        throw scriptRefusal(e, id, conditions)
      }
    },

    async lock(id, owner, ttlMs, now) {
      const c = await conn()
      try {
        const fence = Number(await c.eval<number>(LOCK, [keys.session(id), keys.lock(id)], [owner, Math.ceil(ttlMs), now]))
        return fence === 0 ? null : fence
      } catch (e) {
        throw scriptRefusal(e, id)
      }
    },

    async extendLock(id, owner, ttlMs) {
      const c = await conn()
      try {
        return Number(await c.eval<number>(EXTEND_LOCK, [keys.lock(id)], [owner, Math.ceil(ttlMs)])) === 1
      } catch (e) {
        throw unavailable(e, 'extendLock failed')
      }
    },

    async unlock(id, owner) {
      const c = await conn()
      try {
        return Number(await c.eval<number>(UNLOCK, [keys.lock(id)], [owner])) === 1
      } catch (e) {
        throw unavailable(e, 'unlock failed')
      }
    },

    async raiseFence(id, now) {
      const c = await conn()
      try {
        return Number(await c.eval<number>(RAISE_FENCE, [keys.session(id)], [now]))
      } catch (e) {
        throw scriptRefusal(e, id)
      }
    },

    async touch(id, lastAccessedAt, expiresAt) {
      const c = await conn()
      try {
        return (await c.eval<number>(TOUCH, [keys.session(id), keys.expiriesOf(id)], [id, lastAccessedAt, expiresAt, retentionMs])) === 1
      } catch (e) {
        throw unavailable(e, 'touch failed')
      }
    },

    async destroy(id) {
      const c = await conn()
      try {
        const [existed, principal] = await write<[number, string]>(c, DESTROY, [keys.session(id), keys.expiriesOf(id)], [id, inline(), keys.changes])
        if (!inline() && principal) await indexRemove(c, principal, id)
        return Number(existed) === 1
      } catch (e) {
        throw unavailable(e, 'destroy failed')
      }
    },

    async changeId(oldId, newId, now) {
      const c = await conn()
      try {
        if (c.mode === 'cluster') return await changeIdAcrossSlots(c, oldId, newId, now)
        const k = [keys.session(oldId), keys.expiriesOf(oldId), keys.session(newId), keys.expiriesOf(newId)]
        return (await write<number>(c, CHANGE_ID, k, [oldId, newId, now, inline(), keys.changes])) === 1
      } catch (e) {
        throw scriptRefusal(e, newId)
      }
    },

    async findByPrincipal(principal, now) {
      const c = await conn()
      try {
        const ikey = keys.principal(principal)
        const ids = await c.command<string[]>(ikey, ['ZRANGEBYSCORE', ikey, `(${now}`, '+inf'], true)
        const found = await Promise.all(ids.map((id) => peek(c, id, now)))
        const live: string[] = []
        const stale: string[] = []
        ids.forEach((id, i) => (found[i]?.principal === principal ? live : stale).push(id))
        if (stale.length > 0) await c.command(ikey, ['ZREM', ikey, ...stale])
        return live
      } catch (e) {
        throw unavailable(e, 'findByPrincipal failed')
      }
    },

    async scan({ cursor, limit, now }): Promise<ScanPage> {
      const c = await conn()
      const [fromBucket, afterId] = cursor ? [Number(cursor.slice(0, cursor.indexOf(':'))), cursor.slice(cursor.indexOf(':') + 1)] : [0, '']
      if (!Number.isInteger(fromBucket) || fromBucket < 0 || fromBucket >= BUCKETS) throw new ConfigurationError('redis store: bad scan cursor')
      const max = Math.max(1, Math.floor(limit))
      const sessions: StoredSession[] = []
      try {
        for (let b = fromBucket; b < BUCKETS; b++) {
          const zkey = keys.bucketExpiries(b)
          const ids = (await c.command<string[]>(zkey, ['ZRANGEBYSCORE', zkey, `(${now}`, '+inf'], true))
            .filter((id) => b !== fromBucket || id > afterId)
            .sort()
          const room = max - sessions.length
          const page = ids.slice(0, room)
          for (const s of await Promise.all(page.map((id) => peek(c, id, now)))) if (s) sessions.push(s)
          const last = page[page.length - 1]
          if (ids.length > room && last !== undefined) return { sessions, cursor: `${b}:${last}` }
          if (sessions.length >= max && last !== undefined) return { sessions, cursor: b + 1 < BUCKETS ? `${b + 1}:` : null }
        }
        return { sessions, cursor: null }
      } catch (e) {
        throw unavailable(e, 'scan failed')
      }
    },

    async sweep(now, limit = Number.POSITIVE_INFINITY) {
      const c = await conn()
      try {
        // One sweeper at a time: the holder keeps the lease by sweeping; others skip until it lapses.
        if ((await c.eval<number>(LEASE, [keys.sweeperLease], [leaseOwner, leaseMs])) !== 1) return []
        const cap = Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : 1000
        const due = await eachBucket((b) => dueIn(c, b, now, cap))
        // Candidates up to the limit, then one script per bucket that has some.
        const plan: Array<[number, string[]]> = []
        let planned = 0
        for (let b = 0; b < BUCKETS && planned < cap; b++) {
          const ids = (due[b] ?? []).slice(0, cap - planned)
          if (ids.length > 0) plan.push([b, ids])
          planned += ids.length
        }
        // A bucket whose script ran has deleted its sessions: its report must not be lost because
        // another bucket failed. A failed bucket's sessions are still due, so the next sweep retries them.
        const settled = await Promise.allSettled(plan.map(([b, ids]) => sweepBucket(c, b, ids, now)))
        const found = settled.flatMap((r) => (r.status === 'fulfilled' ? r.value : []))
        const failed = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
        if (failed[0] && found.length === 0) throw failed[0].reason
        if (failed[0]) report(failed[0].reason, `sweep: ${failed.length} of ${plan.length} buckets failed (retried on the next sweep)`)
        // A failed removal only lingers: findByPrincipal skips ids whose session is gone, and the
        // next index write for that user prunes entries past their deadline.
        const removals = await Promise.allSettled(found.filter((e) => e.principal !== null).map((e) => indexRemove(c, e.principal as string, e.id)))
        const lingering = removals.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
        if (lingering[0]) report(lingering[0].reason, `sweep: ${lingering.length} per-user index entries of swept sessions not removed`)
        return found
      } catch (e) {
        throw unavailable(e, 'sweep failed')
      }
    },

    async count(now) {
      const c = await conn()
      try {
        const counts = await eachBucket((b) => {
          const zkey = keys.bucketExpiries(b)
          return c.command<number>(zkey, ['ZCOUNT', zkey, `(${now}`, '+inf'], true)
        })
        return counts.reduce((a, n) => a + Number(n), 0)
      } catch (e) {
        throw unavailable(e, 'count failed')
      }
    },

    /** Every save, destroy and id change any instance makes, as the scripts PUBLISH them (docs/REDIS.md). */
    watch(listener) {
      const w = watchChanges(conn, keys.changes, options.changesClientName ?? 'sessionmesh-changes', listener, onError)
      watches.add(w)
      return {
        close: async () => {
          watches.delete(w)
          await w.close()
        },
      }
    },

    close: closeConnection,
  } satisfies SessionStore & { connection: () => Promise<RedisConnection> }
}

/** The Spring Session layout behind the same lazily connected factory. */
function springLayout(conn: () => Promise<RedisConnection>, options: SpringSessionStoreOptions | undefined, close: () => Promise<void>) {
  let inner: Promise<ReturnType<typeof springSessionStore>> | null = null
  const store = () => (inner ??= conn().then((c) => springSessionStore(c, options)))
  // A failed first connection is not kept: the next call tries again.
  const get = () => store().catch((e: unknown) => {
    inner = null
    throw e
  })
  return {
    kind: 'redis',
    connection: conn,
    load: async (id, now, o?: LoadOptions) => (await get()).load(id, now, o),
    create: async (s) => (await get()).create(s),
    apply: async (id, d, c) => (await get()).apply(id, d, c),
    lock: async (id, owner, ttl, now) => (await get()).lock(id, owner, ttl, now),
    extendLock: async (id, owner, ttl, now) => (await get()).extendLock(id, owner, ttl, now),
    unlock: async (id, owner) => (await get()).unlock(id, owner),
    raiseFence: async (id, now) => (await get()).raiseFence(id, now),
    touch: async (id, l, e) => (await get()).touch(id, l, e),
    destroy: async (id) => (await get()).destroy(id),
    changeId: async (a, b, now) => (await get()).changeId(a, b, now),
    findByPrincipal: async (p, now) => (await get()).findByPrincipal(p, now),
    scan: async (o) => (await get()).scan(o),
    sweep: async (now, limit) => (await get()).sweep(now, limit),
    count: async (now) => (await get()).count(now),
    // The Spring store's own close() only closes the connection, which this does.
    close,
  } satisfies SessionStore & { connection: () => Promise<RedisConnection> }
}

/** One attribute change as the APPLY script's op/name/value triple. */
function changeArgs(name: string, change: AttributeChange): [string, string, string] {
  switch (change.op) {
    case 'set':
      return ['s', name, change.value]
    case 'delete':
      return ['d', name, '']
    case 'increment':
      return ['i', name, String(change.by)]
    case 'append':
      return ['a', name, change.value]
    case 'merge':
      // The fields as one JSON object text, which the script splits like a stored object.
      return ['m', name, `{${change.fields.map(([f, v]) => `${JSON.stringify(f)}:${v}`).join(',')}}`]
    default:
      throw new TypeError(`redis store: unknown attribute change ${JSON.stringify(change satisfies never)}`)
  }
}

export { bucketOf }
export { quorumLocks } from './quorum-locks.js'
export type { QuorumLocksOptions } from './quorum-locks.js'
