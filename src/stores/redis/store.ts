/**
 * `redisStore`: sessions in Redis' sessionmesh layout (docs/REDIS.md). This file is the
 * factory and the store's operations; the layout is in keys.ts and record.ts, the Lua in
 * scripts.ts, the per-user index in principals.ts, the sweeper in sweep.ts, the change feed
 * in watch.ts.
 */
import { randomBytes } from 'node:crypto'
import { type Duration, toMs } from '../../core/duration.js'
import { ConfigurationError, NotReplicatedError, SessionNotFoundError, StoreUnavailableError } from '../../core/errors.js'
import type { ApplyConditions, LoadOptions, ScanPage, SessionDelta, SessionStore, StoredSession, StoreWatch } from '../../core/store.js'
import { type CallOf, type LuaScript, type RedisConnection, type RedisTarget, type ReplyOf, scriptRefusal, storeConnection, unavailable } from '../../redis/index.js'
import { BUCKETS, eachBucket, KeyLayout } from './keys.js'
import { principalIndex } from './principals.js'
import { changeArgs, deadlineOf, encodeHash } from './record.js'
import { APPLY, CHANGE_ID, CREATE, DESTROY, EXTEND_LEASE, LOAD, LOCK, RAISE_FENCE, RELEASE_LEASE, REMOVE_IF_VERSION, TOUCH } from './scripts.js'
import { sweeper } from './sweep.js'
import { watchChanges } from './watch.js'

export type RedisStoreOptions = RedisTarget & {
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
  /**
   * Longest wait for any one reply from Redis (a WAIT gets its own timeout on top). Past it
   * the call fails with CommandTimeoutError (a StoreUnavailableError: 503) and the connection
   * is dropped and made again, so a paused or unreachable Redis never holds a request longer.
   * Default `'2s'`.
   */
  commandTimeout?: Duration
  /** `CLIENT SETNAME` of the change feed's subscriber connection (see `watch`). Default `sessionmesh-changes`. */
  changesClientName?: string
  /**
   * Errors the store lives through without failing a call: connection errors between
   * reconnects (node-redis keeps reconnecting), and the part of a sweep that failed while the
   * rest succeeded (its sessions stay due and the next sweep retries them). Default: ignored.
   */
  onError?: (error: Error) => void
}

/**
 * Sessions in Redis: standalone, behind Sentinel, or on a Redis Cluster. Each load and
 * each save is one Lua script call (one round trip), atomic on the node that owns the
 * session; a per-user index answers `findByPrincipal`; a sweeper that one instance at a
 * time runs (a lease) reports every expiry exactly once, without keyspace notifications.
 * Needs the optional peer dependency `redis` (node-redis); see docs/REDIS.md. For Spring
 * Session's layout, use `springSessionStore` from `sessionmesh/interop`.
 *
 * @example
 * import { redisStore } from 'sessionmesh/redis'
 * const store = redisStore({ url: 'redis://localhost:6379' })
 * const store = redisStore({ cluster: { rootNodes: [{ url: 'redis://10.0.0.1:7000' }] } })
 * const store = redisStore({ sentinel: { name: 'mymaster', sentinelRootNodes: [{ host: '10.0.0.5', port: 26379 }] }, durability: 'replicated' })
 */
export function redisStore(options: RedisStoreOptions) {
  const legacy = options as { layout?: unknown; spring?: unknown }
  if (legacy.layout === 'spring-session' || legacy.spring !== undefined) {
    throw new ConfigurationError("redisStore: the Spring Session layout has its own factory now: use springSessionStore(options) from 'sessionmesh/interop'")
  }
  if (legacy.layout !== undefined && legacy.layout !== 'sessionmesh') throw new ConfigurationError('redisStore: there is no `layout` option')
  const keys = new KeyLayout(options.prefix ?? 'sessionmesh:')
  const retentionMs = options.expiredRetentionMs ?? 10 * 60_000
  const leaseMs = options.sweepLeaseMs ?? 90_000
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000
  const commandTimeoutMs = toMs(options.commandTimeout ?? '2s', 'redisStore: commandTimeout')
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

  const onError = options.onError ?? (() => {})
  /** A failure the store lived through (the call still succeeded), for `onError`. */
  const report = (e: unknown, what: string) => {
    try {
      onError(new StoreUnavailableError(`redis store: ${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e }))
    } catch {
      // A throwing handler must not fail the call: a sweep would lose the report of what it removed.
    }
  }
  const connection = storeConnection(options, { connectTimeoutMs, onError, feature: 'redisStore', timeouts: { commandTimeoutMs } })
  const conn = () => connection.get()

  const watches = new Set<StoreWatch>()
  const close = async () => {
    await Promise.all([...watches].map((w) => w.close()))
    await connection.close()
  }

  /** A write: with `durability`, pipelined with WAIT on a connection of its own (no one waits behind it); too few acks fail it. */
  const write = async <S extends LuaScript>(c: RedisConnection, script: S, call: CallOf<S>): Promise<ReplyOf<S>> => {
    if (!durability) return c.run(script, call)
    const [reply, acked] = await c.runAndWait(script, call, durability.replicas, durability.timeoutMs)
    if (acked < durability.replicas) throw new NotReplicatedError(durability.replicas, acked, durability.timeoutMs)
    return reply
  }

  const sessionKeys = (id: string) => ({ session: keys.session(id), expiries: keys.expiriesOf(id) })

  /** Loads without touching: for changeId, findByPrincipal and scan. */
  const peek = async (c: RedisConnection, id: string, now: number): Promise<StoredSession | null> => {
    const found = await c.run(LOAD, { keys: sessionKeys(id), args: { id, now, touchIntervalMs: -1, retentionMs } })
    return found && { id, ...found }
  }

  const index = principalIndex(keys)
  const sweep = sweeper({ keys, index, owner: randomBytes(12).toString('base64url'), leaseMs, write, report })

  /** Cluster: copy to the new id, then remove the old one only if unchanged since the copy. */
  const changeIdAcrossSlots = async (c: RedisConnection, oldId: string, newId: string, now: number): Promise<boolean> => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const old = await peek(c, oldId, now)
      if (!old) return false
      const moved: StoredSession = { ...old, id: newId, idIssuedAt: now }
      if (old.principal !== null) await index.add(c, old.principal, newId, deadlineOf(old), now)
      const args = { id: newId, now, expiresAt: old.expiresAt, retentionMs, deadline: deadlineOf(old), fields: encodeHash(moved) }
      await write(c, CREATE, { keys: sessionKeys(newId), args }).catch((e: unknown) => {
        throw scriptRefusal(e, newId)
      })
      const removed = await write(c, REMOVE_IF_VERSION, { keys: sessionKeys(oldId), args: { id: oldId, version: old.version, channel: keys.changes } })
      if (removed === 'removed') {
        if (old.principal !== null) await index.remove(c, old.principal, oldId)
        return true
      }
      // Changed (or destroyed) between copy and removal: undo the copy and look again.
      await write(c, DESTROY, { keys: sessionKeys(newId), args: { id: newId, indexPrefix: '', channel: keys.changes } })
      if (removed === 'gone') return false
    }
    throw new StoreUnavailableError(`redis store: session kept changing while its id was being changed; try again`)
  }

  return {
    kind: 'redis',
    /** increment, append and merge are computed by the APPLY script, on the stored JSON text. */
    atomic: true,
    // apply refuses a delta that grows the session past maxSessionBytes, in the same script.
    limitsSize: true,

    /** The connection, once made (for the CLI and tests). */
    connection: conn,

    async load(id, now, loadOptions?: LoadOptions) {
      const c = await conn()
      const touchIntervalMs = loadOptions?.touchIntervalMs ?? -1
      try {
        const found = await c.run(LOAD, { keys: sessionKeys(id), args: { id, now, touchIntervalMs, retentionMs } })
        return found && { id, ...found }
      } catch (e) {
        throw unavailable(e, 'load failed')
      }
    },

    async create(s) {
      const c = await conn()
      const deadline = deadlineOf(s)
      try {
        const k: { session: string; expiries: string; index?: string } = sessionKeys(s.id)
        if (s.principal !== null) {
          if (index.inline(c)) k.index = keys.principal(s.principal)
          else await index.add(c, s.principal, s.id, deadline, s.lastAccessedAt)
        }
        await write(c, CREATE, { keys: k, args: { id: s.id, now: s.lastAccessedAt, expiresAt: s.expiresAt, retentionMs, deadline, fields: encodeHash(s) } })
      } catch (e) {
        throw scriptRefusal(e, s.id)
      }
    },

    async apply(id, delta: SessionDelta, conditions: ApplyConditions = {}) {
      const c = await conn()
      const inline = index.inline(c)
      const changes: string[] = []
      for (const [name, change] of delta.attributes) changes.push(...changeArgs(name, change))
      const args = {
        id,
        lastAccessedAt: delta.lastAccessedAt,
        expiresAt: delta.expiresAt,
        retentionMs,
        expectedVersion: conditions.expectedVersion ?? '',
        fence: conditions.fence ?? '',
        principalChange: delta.principal === undefined ? '' : delta.principal === null ? 'c' : 's',
        principal: delta.principal ?? '',
        indexPrefix: inline,
        maxValueBytes: delta.maxValueBytes ?? '',
        maxSessionBytes: delta.maxSessionBytes ?? '',
        channel: keys.changes,
        changes,
      }
      const k: { session: string; expiries: string; index?: string } = sessionKeys(id)
      const principal = delta.principal
      try {
        if (typeof principal === 'string') {
          if (inline) {
            k.index = keys.principal(principal)
          } else {
            // Index before the session says so; the deadline is re-read from the session by readers' checks.
            const current = await peek(c, id, delta.lastAccessedAt)
            if (!current) throw new SessionNotFoundError(id)
            await index.add(c, principal, id, deadlineOf(current), delta.lastAccessedAt)
          }
        }
        const { version, oldPrincipal, values } = await write(c, APPLY, { keys: k, args })
        if (!inline && principal !== undefined && oldPrincipal && oldPrincipal !== principal) await index.remove(c, oldPrincipal, id)
        return values ? { version, values } : { version }
      } catch (e) {
        throw scriptRefusal(e, id, conditions)
      }
    },

    async lock(id, owner, ttlMs, now) {
      const c = await conn()
      try {
        return await c.run(LOCK, { keys: { session: keys.session(id), lock: keys.lock(id) }, args: { owner, ttlMs: Math.ceil(ttlMs), now } })
      } catch (e) {
        throw scriptRefusal(e, id)
      }
    },

    async extendLock(id, owner, ttlMs) {
      const c = await conn()
      try {
        return await c.run(EXTEND_LEASE, { keys: { lease: keys.lock(id) }, args: { owner, ttlMs: Math.ceil(ttlMs) } })
      } catch (e) {
        throw unavailable(e, 'extendLock failed')
      }
    },

    async unlock(id, owner) {
      const c = await conn()
      try {
        return await c.run(RELEASE_LEASE, { keys: { lease: keys.lock(id) }, args: { owner } })
      } catch (e) {
        throw unavailable(e, 'unlock failed')
      }
    },

    async raiseFence(id, now) {
      const c = await conn()
      try {
        return await c.run(RAISE_FENCE, { keys: { session: keys.session(id) }, args: { now } })
      } catch (e) {
        throw scriptRefusal(e, id)
      }
    },

    async touch(id, lastAccessedAt, expiresAt) {
      const c = await conn()
      try {
        return await c.run(TOUCH, { keys: sessionKeys(id), args: { id, lastAccessedAt, expiresAt, retentionMs } })
      } catch (e) {
        throw unavailable(e, 'touch failed')
      }
    },

    async destroy(id) {
      const c = await conn()
      const inline = index.inline(c)
      try {
        const { existed, principal } = await write(c, DESTROY, { keys: sessionKeys(id), args: { id, indexPrefix: inline, channel: keys.changes } })
        if (!inline && principal) await index.remove(c, principal, id)
        return existed
      } catch (e) {
        throw unavailable(e, 'destroy failed')
      }
    },

    async changeId(oldId, newId, now) {
      const c = await conn()
      try {
        if (c.mode === 'cluster') return await changeIdAcrossSlots(c, oldId, newId, now)
        const k = { oldSession: keys.session(oldId), oldExpiries: keys.expiriesOf(oldId), newSession: keys.session(newId), newExpiries: keys.expiriesOf(newId) }
        return await write(c, CHANGE_ID, { keys: k, args: { oldId, newId, now, indexPrefix: index.inline(c), channel: keys.changes } })
      } catch (e) {
        throw scriptRefusal(e, newId)
      }
    },

    async findByPrincipal(principal, now) {
      const c = await conn()
      try {
        return await index.find(c, principal, now, (id) => peek(c, id, now))
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
        return await sweep(c, now, limit)
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

    close,
  } satisfies SessionStore & { connection: () => Promise<RedisConnection> }
}
