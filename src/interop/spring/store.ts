/**
 * A SessionStore over Spring Session's own Redis layout, so a Node service and a Spring Boot
 * service (Spring Session Data Redis 3.x with GenericJackson2JsonRedisSerializer) share
 * sessions: one login, one cart, "log out everywhere" reaching both.
 *
 * The layout is RedisIndexedSessionRepository's (spring-projects/spring-session,
 * spring-session-data-redis/src/main/java/org/springframework/session/data/redis/
 * RedisIndexedSessionRepository.java and RedisSessionMapper.java), `<ns>` = `spring:session`:
 *
 * | key                                         | type   | content                                                   |
 * | ------------------------------------------- | ------ | --------------------------------------------------------- |
 * | `<ns>:sessions:<id>`                        | hash   | `creationTime`, `lastAccessedTime` (epoch ms), `maxInactiveInterval` (s), `sessionAttr:<name>` (Jackson JSON; empty = removed) |
 * | `<ns>:sessions:expires:<id>`                | string | `""`, expiring when the session does (Spring's expiry events) |
 * | `<ns>:expirations:<minute>`                 | set    | `"expires:<id>"` (JSON-quoted), the minute after expiry    |
 * | `<ns>:index:org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME:<name>` | set | `"<id>"` (JSON-quoted) |
 *
 * The hash also holds `sessionmesh:*` fields (version, fence, idIssuedAt, idle and absolute
 * timeouts in ms, expiresAt, the last access they were computed for), all plain numbers.
 * Spring ignores them: RedisSessionMapper only reads its three fields and `sessionAttr:*`, and
 * Jackson reads numbers as Integer/Long, so its `entries()` call stays happy. Two sorted sets,
 * `<ns>:sessionmesh:expiries` and `<ns>:sessionmesh:ids`, drive `sweep`, `scan` and `count`.
 *
 * The principal is Spring's: the `PRINCIPAL_NAME_INDEX_NAME` attribute, else the
 * `SPRING_SECURITY_CONTEXT`'s authentication name (PrincipalNameIndexResolver). Setting it
 * from Node writes that attribute, which Spring's `findByPrincipalName` then finds.
 *
 * Atomicity: on a standalone server or behind Sentinel each method is one Lua script. The
 * atomic changes (increment, append, merge) are the core's compare-and-set over `load` and
 * `apply` (the values are Jackson's, not JSON the Lua could splice), so `atomic` is not set. On a
 * Redis Cluster, Spring's keys for one session live in different slots, so only the session
 * hash is changed atomically (versions, fences and "never resurrect" hold); the shadow key,
 * minute bucket, principal index and our sets are updated by separate commands right after
 * (an index entry is added before the session names the principal, so a reader that checks
 * the session never misses one), and changeId is a copy plus a guarded delete.
 */
import { type Duration, toMs } from '../../core/duration.js'
import { ConfigurationError, StoreUnavailableError } from '../../core/errors.js'
import type { ApplyConditions, LoadOptions, ScanPage, SessionDelta, SessionStore, StoredSession } from '../../core/store.js'
import { type Named, type RedisConnection, type RedisTarget, scriptRefusal, storeConnection, unavailable } from '../../redis/index.js'
import { jacksonString, toSpring } from './jackson.js'
import {
  APPLY,
  CHANGE_ID,
  CLAIM,
  CREATE,
  DESTROY,
  EXPIRE_ONE,
  EXTEND_LOCK,
  LOAD,
  LOCK,
  RAISE_FENCE,
  type SpringArgs,
  type SpringScript,
  SWEEP,
  TOUCH,
  UNLOCK,
} from './scripts.js'

/** The Spring Session layout's own options. */
export interface SpringSessionOptions {
  /** Spring's `redisNamespace` (`spring.session.redis.namespace`). Default `spring:session`. */
  namespace?: string
  /**
   * The absolute timeout of sessions Spring created (Spring has none): they end this long
   * after their creationTime as far as sessionmesh is concerned. Default 12 hours, as
   * `createSessions`' own default.
   */
  absoluteTimeoutMs?: number
  /**
   * How long an ended session's hash stays readable for Spring's SessionExpiredEvent /
   * SessionDeletedEvent listeners, and for the sweeper to report it. Default 5 minutes, as
   * RedisIndexedSessionRepository keeps it.
   */
  expiredRetentionMs?: number
}

export type SpringSessionStoreOptions = RedisTarget &
  SpringSessionOptions & {
    /** Longest wait for the first connection before operations fail with StoreUnavailableError. Default 5 s. */
    connectTimeoutMs?: number
    /** Connection errors between reconnects (node-redis keeps reconnecting). Default: ignored. */
    onError?: (error: Error) => void
    /**
     * Longest wait for any one command's reply, as `redisStore`'s: past it the call fails with
     * CommandTimeoutError (503) and the silent connection is made again. Default `'2s'`.
     */
    commandTimeout?: Duration
  }

/** Spring's index name: FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME. */
export const PRINCIPAL_NAME_INDEX_NAME = 'org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME'

type Expired = { id: string; principal: string | null }

/** Whole milliseconds, as Spring's epoch-ms fields hold them. */
const ms = (n: number) => String(Math.floor(n))
const maxInactiveInterval = (idleMs: number) => String(Math.min(2147483647, Math.ceil(idleMs / 1000)))

/**
 * Sessions in Spring Session's Redis layout (see the module comment), shared with Spring Boot
 * services: standalone, behind Sentinel, or on a Redis Cluster, with the same connection
 * options as `redisStore` (`url | cluster | sentinel | client`). It connects in the
 * background from its creation, like `redisStore`; a missing `redis` package fails the first
 * call with MissingDependencyError. `close()` closes the connection (never a `client` you
 * passed in). Use with `springSessionTokens()` and the cookie name `SESSION`.
 *
 * @example
 * import { springSessionStore, springSessionTokens } from 'sessionmesh/interop'
 * const sessions = createSessions({
 *   store: springSessionStore({ url: 'redis://localhost:6379' }), // namespace: 'spring:session'
 *   tokens: springSessionTokens(),
 *   cookie: { name: 'SESSION' },
 *   idleTimeout: '30m', // Spring Boot's default server.servlet.session.timeout
 * })
 */
export function springSessionStore(options: SpringSessionStoreOptions) {
  const namespace = (options.namespace ?? 'spring:session').trim()
  // eslint-disable-next-line no-control-regex -- control characters are refused
  if (!namespace || /[\u0000-\u001f\s]/.test(namespace)) throw new ConfigurationError('springSessionStore: namespace must be a non-empty name without spaces')
  const absoluteTimeoutMs = options.absoluteTimeoutMs ?? 12 * 3_600_000
  const retentionMs = options.expiredRetentionMs ?? 5 * 60_000
  for (const [name, v] of [['absoluteTimeoutMs', absoluteTimeoutMs], ['expiredRetentionMs', retentionMs]] as const) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new ConfigurationError(`springSessionStore: ${name} must be a positive whole number of milliseconds`)
  }
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000
  if (!Number.isFinite(connectTimeoutMs) || connectTimeoutMs <= 0) throw new ConfigurationError('springSessionStore: connectTimeoutMs must be a positive number of milliseconds')
  const commandTimeoutMs = toMs(options.commandTimeout ?? '2s', 'springSessionStore: commandTimeout')
  const connection = storeConnection(options, {
    connectTimeoutMs,
    onError: options.onError ?? (() => {}),
    feature: 'springSessionStore',
    timeouts: { commandTimeoutMs },
  })
  const conn = () => connection.get()

  const ns = `${namespace}:`
  const keys = {
    session: (id: string) => `${ns}sessions:${id}`,
    index: (principal: string) => `${ns}index:${PRINCIPAL_NAME_INDEX_NAME}:${principal}`,
    expiries: `${ns}sessionmesh:expiries`,
    ids: `${ns}sessionmesh:ids`,
  }
  const quoted = (id: string) => jacksonString(id)

  /** Runs a script with the layout's arguments first; on Cluster, then the writes it handed back for keys in other slots. */
  const run = async <K extends readonly string[], A extends readonly string[], P>(
    c: RedisConnection,
    script: SpringScript<K, A, P>,
    k: Named<K, string>,
    args: Named<A, string | number>,
  ): Promise<P> => {
    const layout: Named<SpringArgs, string | number> = { namespace: ns, clusterMode: c.mode === 'cluster' ? '1' : '0', retentionMs, adoptAbsoluteMs: absoluteTimeoutMs }
    const { payload, effects } = await c.run(script, { keys: k, args: { ...layout, ...args } })
    for (const effect of effects) await c.command(effect[1], effect)
    return payload
  }

  /** A read without a touch (findByPrincipal, scan, changeId on Cluster). */
  const peek = async (c: RedisConnection, id: string, now: number, raw = false) => {
    const r = await run(c, LOAD, { session: keys.session(id) }, { id, now, touchIntervalMs: -1, raw: raw ? '1' : '' })
    return r ? { record: { id, ...r.session }, raw: r.raw } : null
  }

  const indexAdd = (c: RedisConnection, principal: string, id: string) => c.command(keys.index(principal), ['SADD', keys.index(principal), quoted(id)])

  /** The hash fields of a new session, Spring's first (as RedisSessionRepository's RedisSession writes them for a new session). */
  const fieldsOf = (s: StoredSession): string[] => {
    const out = [
      'creationTime', ms(s.createdAt),
      'maxInactiveInterval', maxInactiveInterval(s.idleTimeoutMs),
      'lastAccessedTime', ms(s.lastAccessedAt),
    ]
    for (const [name, value] of s.attributes) out.push(`sessionAttr:${name}`, toSpring(value, name))
    if (s.principal !== null) out.push(`sessionAttr:${PRINCIPAL_NAME_INDEX_NAME}`, jacksonString(s.principal))
    out.push(
      'sessionmesh:version', String(s.version),
      'sessionmesh:fence', String(s.fence),
      'sessionmesh:idIssuedAt', ms(s.idIssuedAt),
      'sessionmesh:idleTimeoutMs', ms(s.idleTimeoutMs),
      'sessionmesh:absoluteTimeoutMs', ms(s.absoluteTimeoutMs),
      'sessionmesh:expiresAt', ms(s.expiresAt),
      'sessionmesh:lastAccessedTime', ms(s.lastAccessedAt),
    )
    return out
  }

  /** Cluster: the hash cannot be RENAMEd across slots; copy it, then delete the old one if it did not change meanwhile. */
  const changeIdAcrossSlots = async (c: RedisConnection, oldId: string, newId: string, now: number): Promise<boolean> => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const old = await peek(c, oldId, now, true)
      if (!old || !old.raw) return false
      const s = old.record
      const fields: string[] = []
      for (let i = 0; i + 1 < old.raw.length; i += 2) {
        const field = old.raw[i] as string
        if (!field.startsWith('sessionmesh:') && old.raw[i + 1] !== '') fields.push(field, old.raw[i + 1] as string)
      }
      fields.push(
        'sessionmesh:version', String(s.version),
        'sessionmesh:fence', String(s.fence),
        'sessionmesh:idIssuedAt', ms(now),
        'sessionmesh:idleTimeoutMs', ms(s.idleTimeoutMs),
        'sessionmesh:absoluteTimeoutMs', ms(s.absoluteTimeoutMs),
        'sessionmesh:expiresAt', ms(s.expiresAt),
        'sessionmesh:lastAccessedTime', ms(s.lastAccessedAt),
      )
      if (s.principal !== null) await indexAdd(c, s.principal, newId)
      await run(c, CREATE, { session: keys.session(newId) }, { id: newId, now, expiresAt: s.expiresAt, principal: s.principal ?? '', fields })
      const { outcome } = await run(c, DESTROY, { session: keys.session(oldId) }, { id: oldId, mode: 'purge', version: s.version, lastAccessedAt: s.lastAccessedAt })
      if (outcome === 'done') return true
      // Changed (or ended) between the copy and the delete: undo the copy and look again.
      await run(c, DESTROY, { session: keys.session(newId) }, { id: newId, mode: 'purge' })
      if (outcome === 'absent') return false
    }
    throw new StoreUnavailableError('spring session store: the session kept changing while its id was being changed; try again')
  }

  const sweepStandalone = (c: RedisConnection, now: number, batch: number) => run(c, SWEEP, { expiries: keys.expiries }, { now, limit: batch })

  const sweepCluster = async (c: RedisConnection, now: number, batch: number): Promise<{ due: number; expired: Expired[] }> => {
    const due = await run(c, CLAIM, { expiries: keys.expiries }, { now, limit: batch })
    const results = await Promise.all(due.map((id) => run(c, EXPIRE_ONE, { session: keys.session(id) }, { id, now })))
    const expired: Expired[] = []
    due.forEach((id, i) => {
      const r = results[i]
      if (r?.expired) expired.push({ id, principal: r.principal })
    })
    return { due: due.length, expired }
  }

  return {
    kind: 'spring-session',

    /** The connection, once made (for the CLI and tests). */
    connection: conn,

    async load(id, now, loadOptions?: LoadOptions) {
      const c = await conn()
      try {
        const r = await run(c, LOAD, { session: keys.session(id) }, { id, now, touchIntervalMs: loadOptions?.touchIntervalMs ?? -1, raw: '' })
        return r ? { id, ...r.session } : null
      } catch (e) {
        throw unavailable(e, 'load failed')
      }
    },

    async create(session) {
      const c = await conn()
      const fields = fieldsOf(session)
      try {
        if (session.principal !== null && c.mode === 'cluster') await indexAdd(c, session.principal, session.id)
        const args = { id: session.id, now: session.lastAccessedAt, expiresAt: session.expiresAt, principal: session.principal ?? '', fields }
        await run(c, CREATE, { session: keys.session(session.id) }, args)
      } catch (e) {
        throw scriptRefusal(e, session.id)
      }
    },

    /**
     * Blind sets and deletes. Not `atomic`: the core turns increment, append and merge into
     * sets with `expectedVersion`, computed on the values `load` returns (compare-and-set).
     */
    async apply(id, delta: SessionDelta, conditions: ApplyConditions = {}) {
      const changes: string[] = []
      for (const [name, change] of delta.attributes) {
        switch (change.op) {
          case 'set':
            changes.push('s', `sessionAttr:${name}`, toSpring(change.value, name))
            break
          case 'delete':
            changes.push('d', `sessionAttr:${name}`, '')
            break
          default:
            throw new TypeError(`spring session store: ${change.op} is not computed by this store (it does not declare \`atomic\`): send it through createSessions`)
        }
      }
      const c = await conn()
      const args = {
        id,
        lastAccessedAt: delta.lastAccessedAt,
        expiresAt: delta.expiresAt,
        expectedVersion: conditions.expectedVersion ?? '',
        fence: conditions.fence ?? '',
        principalChange: delta.principal === undefined ? '' : delta.principal === null ? 'c' : 's',
        principal: typeof delta.principal === 'string' ? jacksonString(delta.principal) : '',
        changes,
      }
      try {
        // Cluster: the index entry goes in before the session names the principal.
        if (typeof delta.principal === 'string' && c.mode === 'cluster') await indexAdd(c, delta.principal, id)
        return { version: await run(c, APPLY, { session: keys.session(id) }, args) }
      } catch (e) {
        throw scriptRefusal(e, id, conditions)
      }
    },

    async lock(id, owner, ttlMs, now) {
      const c = await conn()
      try {
        return await run(c, LOCK, { session: keys.session(id) }, { id, now, owner, ttlMs: Math.ceil(ttlMs) })
      } catch (e) {
        throw scriptRefusal(e, id)
      }
    },

    async extendLock(id, owner, ttlMs, now) {
      const c = await conn()
      try {
        return await run(c, EXTEND_LOCK, { session: keys.session(id) }, { id, now, owner, ttlMs: Math.ceil(ttlMs) })
      } catch (e) {
        throw unavailable(e, 'extendLock failed')
      }
    },

    async unlock(id, owner) {
      const c = await conn()
      try {
        return await run(c, UNLOCK, { session: keys.session(id) }, { id, owner })
      } catch (e) {
        throw unavailable(e, 'unlock failed')
      }
    },

    async raiseFence(id, now) {
      const c = await conn()
      try {
        return await run(c, RAISE_FENCE, { session: keys.session(id) }, { id, now })
      } catch (e) {
        throw scriptRefusal(e, id)
      }
    },

    async touch(id, lastAccessedAt, expiresAt) {
      const c = await conn()
      try {
        return await run(c, TOUCH, { session: keys.session(id) }, { id, lastAccessedAt, expiresAt })
      } catch (e) {
        throw unavailable(e, 'touch failed')
      }
    },

    async destroy(id) {
      const c = await conn()
      try {
        const { outcome } = await run(c, DESTROY, { session: keys.session(id) }, { id, mode: 'tombstone' })
        return outcome === 'done'
      } catch (e) {
        throw unavailable(e, 'destroy failed')
      }
    },

    async changeId(oldId, newId, now) {
      const c = await conn()
      try {
        if (c.mode === 'cluster') return await changeIdAcrossSlots(c, oldId, newId, now)
        return await run(c, CHANGE_ID, { oldSession: keys.session(oldId), newSession: keys.session(newId) }, { oldId, newId, now })
      } catch (e) {
        throw scriptRefusal(e, newId)
      }
    },

    async findByPrincipal(principal, now) {
      const c = await conn()
      try {
        const ikey = keys.index(principal)
        const members = await c.command<string[]>(ikey, ['SMEMBERS', ikey], true)
        const candidates: Array<{ member: string; id: string }> = []
        for (const member of members) {
          // Members Spring wrote with another serializer are not ours to judge: left alone.
          let id: unknown
          try {
            id = JSON.parse(member)
          } catch {
            continue
          }
          if (typeof id === 'string' && id) candidates.push({ member, id })
        }
        const found = await Promise.all(candidates.map((m) => peek(c, m.id, now)))
        const live: string[] = []
        const stale: string[] = []
        candidates.forEach((m, i) => (found[i]?.record.principal === principal ? live.push(m.id) : stale.push(m.member)))
        if (stale.length > 0) await c.command(ikey, ['SREM', ikey, ...stale])
        return live
      } catch (e) {
        throw unavailable(e, 'findByPrincipal failed')
      }
    },

    async scan({ cursor, limit, now }): Promise<ScanPage> {
      const c = await conn()
      const max = Math.max(1, Math.floor(Number.isFinite(limit) ? limit : 1000))
      try {
        const ids = await c.command<string[]>(keys.ids, ['ZRANGE', keys.ids, cursor ? `(${cursor}` : '-', '+', 'BYLEX', 'LIMIT', '0', String(max + 1)], true)
        const page = ids.slice(0, max)
        const found = await Promise.all(page.map((id) => peek(c, id, now)))
        const sessions = found.filter((f) => f !== null).map((f) => f.record)
        return { sessions, cursor: ids.length > max ? (page[page.length - 1] ?? null) : null }
      } catch (e) {
        throw unavailable(e, 'scan failed')
      }
    },

    async sweep(now, limit = Number.POSITIVE_INFINITY) {
      const c = await conn()
      const out: Expired[] = []
      let remaining = Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : Number.POSITIVE_INFINITY
      try {
        // Batches until `limit` sessions expired or nothing more is due; each batch's ids leave
        // the expiry set (swept, or rescheduled later), so the loop ends.
        while (remaining > 0) {
          const batch = Math.min(remaining, 500)
          const r = c.mode === 'cluster' ? await sweepCluster(c, now, batch) : await sweepStandalone(c, now, batch)
          out.push(...r.expired)
          remaining -= r.expired.length
          if (r.due < batch) break
        }
        return out
      } catch (e) {
        throw unavailable(e, 'sweep failed')
      }
    },

    async count(now) {
      const c = await conn()
      try {
        return Number(await c.command<number>(keys.expiries, ['ZCOUNT', keys.expiries, `(${now}`, '+inf'], true))
      } catch (e) {
        throw unavailable(e, 'count failed')
      }
    },

    close: () => connection.close(),
  } satisfies SessionStore & { connection: () => Promise<RedisConnection> }
}
