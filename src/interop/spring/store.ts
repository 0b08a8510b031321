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
 * Atomicity: on a standalone server or behind Sentinel each method is one Lua script. On a
 * Redis Cluster, Spring's keys for one session live in different slots, so only the session
 * hash is changed atomically (versions, fences and "never resurrect" hold); the shadow key,
 * minute bucket, principal index and our sets are updated by separate commands right after
 * (an index entry is added before the session names the principal, so a reader that checks
 * the session never misses one), and changeId is a copy plus a guarded delete.
 */
import { ConfigurationError, SessionNotFoundError, StoreUnavailableError, VersionConflictError } from '../../core/errors.js'
import { applyAtomic, isAtomic } from '../../core/ops.js'
import type { ApplyConditions, AttributeChange, LoadOptions, ScanPage, SessionDelta, SessionStore, StoredSession } from '../../core/store.js'
import { type RedisConnection, type Script, scriptRefusal, unavailable } from '../../stores/redis/connection.js'
import { fromSpring, jacksonString, toSpring } from './jackson.js'
import { APPLY, CHANGE_ID, CLAIM, CREATE, DESTROY, EXPIRE_ONE, EXTEND_LOCK, LOAD, LOCK, RAISE_FENCE, SWEEP, TOUCH, UNLOCK } from './scripts.js'

export interface SpringSessionStoreOptions {
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

/** Spring's index name: FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME. */
export const PRINCIPAL_NAME_INDEX_NAME = 'org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME'

type Effect = string[]
/** LOAD's record: created, last, issued, idle, absolute, expires, principal, version, fence, attributes, raw hash. */
type Record11 = [string, string, string, string, string, string, string | null, string, string, string[], string[] | null]
type Expired = { id: string; principal: string | null }

/** Whole milliseconds, as Spring's epoch-ms fields hold them. */
const ms = (n: number) => String(Math.floor(n))
const maxInactiveInterval = (idleMs: number) => String(Math.min(2147483647, Math.ceil(idleMs / 1000)))


/**
 * Sessions in Spring Session's Redis layout (see the module comment), on a connection from
 * `connectRedis`. `close()` closes the connection (a client you passed to connectRedis stays
 * open). Use with `springSessionTokens()` and the cookie name `SESSION`.
 *
 * @example
 * const connection = await connectRedis({ url: 'redis://localhost:6379' }, console.error)
 * const sessions = createSessions({
 *   store: springSessionStore(connection),
 *   tokens: springSessionTokens(),
 *   cookie: { name: 'SESSION' },
 *   idleTimeout: '30m', // Spring Boot's default server.servlet.session.timeout
 * })
 */
export function springSessionStore(connection: RedisConnection, options: SpringSessionStoreOptions = {}) {
  const namespace = (options.namespace ?? 'spring:session').trim()
  // eslint-disable-next-line no-control-regex -- control characters are refused
  if (!namespace || /[\u0000-\u001f\s]/.test(namespace)) throw new ConfigurationError('springSessionStore: namespace must be a non-empty name without spaces')
  const absoluteTimeoutMs = options.absoluteTimeoutMs ?? 12 * 3_600_000
  const retentionMs = options.expiredRetentionMs ?? 5 * 60_000
  for (const [name, v] of [['absoluteTimeoutMs', absoluteTimeoutMs], ['expiredRetentionMs', retentionMs]] as const) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new ConfigurationError(`springSessionStore: ${name} must be a positive whole number of milliseconds`)
  }
  const ns = `${namespace}:`
  const keys = {
    session: (id: string) => `${ns}sessions:${id}`,
    index: (principal: string) => `${ns}index:${PRINCIPAL_NAME_INDEX_NAME}:${principal}`,
    expiries: `${ns}sessionmesh:expiries`,
    ids: `${ns}sessionmesh:ids`,
  }
  const cluster = () => connection.mode === 'cluster'
  const quoted = (id: string) => jacksonString(id)

  /** Runs a script; on Cluster, then the writes it handed back for keys in other slots. */
  const run = async <T>(script: Script, k: string[], args: Array<string | number>): Promise<T> => {
    const [payload, effects] = await connection.eval<[T, Effect[]]>(script, k, [ns, cluster() ? '1' : '0', retentionMs, absoluteTimeoutMs, ...args])
    for (const effect of effects ?? []) await connection.command(effect[1], effect)
    return payload
  }

  const toRecord = (id: string, r: Record11): StoredSession => {
    const attributes = new Map<string, string>()
    const flat = r[9]
    for (let i = 0; i + 1 < flat.length; i += 2) attributes.set(flat[i] as string, fromSpring(flat[i + 1] as string))
    return {
      id,
      attributes,
      createdAt: Number(r[0]),
      lastAccessedAt: Number(r[1]),
      idIssuedAt: Number(r[2]),
      idleTimeoutMs: Number(r[3]),
      absoluteTimeoutMs: Number(r[4]),
      expiresAt: Number(r[5]),
      principal: r[6] ?? null,
      version: Number(r[7]),
      fence: Number(r[8]),
    }
  }

  /** A read without a touch (findByPrincipal, scan, changeId on Cluster). */
  const peek = async (id: string, now: number, raw = false) => {
    const r = await run<Record11 | null>(LOAD, [keys.session(id)], [id, now, -1, raw ? '1' : ''])
    return r ? { record: toRecord(id, r), raw: r[10] } : null
  }

  /** One APPLY script: blind sets and deletes (`apply` resolves atomic operations first). */
  const applyPlain = async (id: string, delta: SessionDelta, conditions: ApplyConditions): Promise<{ version: number }> => {
    const args: Array<string | number> = [
      id,
      delta.lastAccessedAt,
      delta.expiresAt,
      conditions.expectedVersion ?? '',
      conditions.fence ?? '',
      delta.principal === undefined ? '' : delta.principal === null ? 'c' : 's',
      typeof delta.principal === 'string' ? jacksonString(delta.principal) : '',
    ]
    for (const [name, change] of delta.attributes) {
      switch (change.op) {
        case 'set':
          args.push('s', `sessionAttr:${name}`, toSpring(change.value, name))
          break
        case 'delete':
          args.push('d', `sessionAttr:${name}`, '')
          break
        default:
          throw new TypeError(`spring session store: atomic change ${change.op} reached the plain apply`)
      }
    }
    try {
      // Cluster: the index entry goes in before the session names the principal.
      if (typeof delta.principal === 'string' && cluster()) await indexAdd(delta.principal, id)
      const version = await run<string>(APPLY, [keys.session(id)], args)
      return { version: Number(version) }
    } catch (e) {
      throw scriptRefusal(e, id, conditions)
    }
  }

  const indexAdd = (principal: string, id: string) => connection.command(keys.index(principal), ['SADD', keys.index(principal), quoted(id)])

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
  const changeIdAcrossSlots = async (oldId: string, newId: string, now: number): Promise<boolean> => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const old = await peek(oldId, now, true)
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
      if (s.principal !== null) await indexAdd(s.principal, newId)
      await run(CREATE, [keys.session(newId)], [newId, now, s.expiresAt, s.principal ?? '', ...fields])
      const [done] = await run<[number, string | null]>(DESTROY, [keys.session(oldId)], [oldId, 'purge', s.version, s.lastAccessedAt])
      if (Number(done) === 1) return true
      // Changed (or ended) between the copy and the delete: undo the copy and look again.
      await run(DESTROY, [keys.session(newId)], [newId, 'purge'])
      if (Number(done) === 0) return false
    }
    throw new StoreUnavailableError('spring session store: the session kept changing while its id was being changed; try again')
  }

  const sweepStandalone = async (now: number, batch: number): Promise<{ due: number; expired: Expired[] }> => {
    const [due, flat] = await run<[number, string[]]>(SWEEP, [keys.expiries], [now, batch])
    const expired: Expired[] = []
    for (let i = 0; i + 1 < flat.length; i += 2) expired.push({ id: flat[i] as string, principal: flat[i + 1] || null })
    return { due: Number(due), expired }
  }

  const sweepCluster = async (now: number, batch: number): Promise<{ due: number; expired: Expired[] }> => {
    const due = await run<string[]>(CLAIM, [keys.expiries], [now, batch])
    const results = await Promise.all(due.map((id) => run<[number, string?]>(EXPIRE_ONE, [keys.session(id)], [id, now])))
    const expired: Expired[] = []
    due.forEach((id, i) => {
      const [hit, principal] = results[i] ?? [0]
      if (Number(hit) === 1) expired.push({ id, principal: principal || null })
    })
    return { due: due.length, expired }
  }

  return {
    kind: 'spring-session',

    async load(id, now, loadOptions?: LoadOptions) {
      try {
        const r = await run<Record11 | null>(LOAD, [keys.session(id)], [id, now, loadOptions?.touchIntervalMs ?? -1, ''])
        return r ? toRecord(id, r) : null
      } catch (e) {
        throw unavailable(e, 'load failed')
      }
    },

    async create(session) {
      const fields = fieldsOf(session)
      try {
        if (session.principal !== null && cluster()) await indexAdd(session.principal, session.id)
        await run(CREATE, [keys.session(session.id)], [session.id, session.lastAccessedAt, session.expiresAt, session.principal ?? '', ...fields])
      } catch (e) {
        throw scriptRefusal(e, session.id)
      }
    },

    async apply(id, delta: SessionDelta, conditions: ApplyConditions = {}) {
      if (![...delta.attributes.values()].some(isAtomic)) return applyPlain(id, delta, conditions)
      // Atomic operations on Jackson values are computed here and saved only if the session is
      // still at the version they were computed from; a concurrent write means compute again.
      for (let attempt = 0; ; attempt++) {
        const current = await peek(id, delta.lastAccessedAt)
        if (!current) throw new SessionNotFoundError(id)
        const { version } = current.record
        if (conditions.expectedVersion !== undefined && conditions.expectedVersion !== version) {
          throw new VersionConflictError(id, conditions.expectedVersion, version)
        }
        const attributes = new Map<string, AttributeChange>()
        const values = new Map<string, string>()
        for (const [name, change] of delta.attributes) {
          if (!isAtomic(change)) {
            attributes.set(name, change)
            continue
          }
          const next = applyAtomic(name, values.get(name) ?? current.record.attributes.get(name), change, delta.maxValueBytes)
          values.set(name, next)
          attributes.set(name, { op: 'set', value: next })
        }
        try {
          const applied = await applyPlain(id, { ...delta, attributes }, { ...conditions, expectedVersion: version })
          return { version: applied.version, values }
        } catch (e) {
          if (!(e instanceof VersionConflictError) || conditions.expectedVersion !== undefined || attempt >= 100) throw e
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)))
        }
      }
    },

    async lock(id, owner, ttlMs, now) {
      try {
        const fence = Number(await run<string>(LOCK, [keys.session(id)], [id, now, owner, Math.ceil(ttlMs)]))
        return fence === 0 ? null : fence
      } catch (e) {
        throw scriptRefusal(e, id)
      }
    },

    async extendLock(id, owner, ttlMs, now) {
      try {
        return Number(await run<string>(EXTEND_LOCK, [keys.session(id)], [id, now, owner, Math.ceil(ttlMs)])) === 1
      } catch (e) {
        throw unavailable(e, 'extendLock failed')
      }
    },

    async unlock(id, owner) {
      try {
        return Number(await run<string>(UNLOCK, [keys.session(id)], [id, owner])) === 1
      } catch (e) {
        throw unavailable(e, 'unlock failed')
      }
    },

    async raiseFence(id, now) {
      try {
        return Number(await run<string>(RAISE_FENCE, [keys.session(id)], [id, now]))
      } catch (e) {
        throw scriptRefusal(e, id)
      }
    },

    async touch(id, lastAccessedAt, expiresAt) {
      try {
        return Number(await run<number>(TOUCH, [keys.session(id)], [id, lastAccessedAt, expiresAt])) === 1
      } catch (e) {
        throw unavailable(e, 'touch failed')
      }
    },

    async destroy(id) {
      try {
        const [done] = await run<[number, string | null]>(DESTROY, [keys.session(id)], [id, 'tombstone'])
        return Number(done) === 1
      } catch (e) {
        throw unavailable(e, 'destroy failed')
      }
    },

    async changeId(oldId, newId, now) {
      try {
        if (cluster()) return await changeIdAcrossSlots(oldId, newId, now)
        return Number(await run<number>(CHANGE_ID, [keys.session(oldId), keys.session(newId)], [oldId, newId, now])) === 1
      } catch (e) {
        throw scriptRefusal(e, newId)
      }
    },

    async findByPrincipal(principal, now) {
      try {
        const ikey = keys.index(principal)
        const members = await connection.command<string[]>(ikey, ['SMEMBERS', ikey], true)
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
        const found = await Promise.all(candidates.map((c) => peek(c.id, now)))
        const live: string[] = []
        const stale: string[] = []
        candidates.forEach((c, i) => (found[i]?.record.principal === principal ? live.push(c.id) : stale.push(c.member)))
        if (stale.length > 0) await connection.command(ikey, ['SREM', ikey, ...stale])
        return live
      } catch (e) {
        throw unavailable(e, 'findByPrincipal failed')
      }
    },

    async scan({ cursor, limit, now }): Promise<ScanPage> {
      const max = Math.max(1, Math.floor(Number.isFinite(limit) ? limit : 1000))
      try {
        const ids = await connection.command<string[]>(keys.ids, ['ZRANGE', keys.ids, cursor ? `(${cursor}` : '-', '+', 'BYLEX', 'LIMIT', '0', String(max + 1)], true)
        const page = ids.slice(0, max)
        const found = await Promise.all(page.map((id) => peek(id, now)))
        const sessions = found.filter((f) => f !== null).map((f) => f.record)
        return { sessions, cursor: ids.length > max ? (page[page.length - 1] ?? null) : null }
      } catch (e) {
        throw unavailable(e, 'scan failed')
      }
    },

    async sweep(now, limit = Number.POSITIVE_INFINITY) {
      const out: Expired[] = []
      let remaining = Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : Number.POSITIVE_INFINITY
      try {
        // Batches until `limit` sessions expired or nothing more is due; each batch's ids leave
        // the expiry set (swept, or rescheduled later), so the loop ends.
        while (remaining > 0) {
          const batch = Math.min(remaining, 500)
          const r = cluster() ? await sweepCluster(now, batch) : await sweepStandalone(now, batch)
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
      try {
        return Number(await connection.command<number>(keys.expiries, ['ZCOUNT', keys.expiries, `(${now}`, '+inf'], true))
      } catch (e) {
        throw unavailable(e, 'count failed')
      }
    },

    async close() {
      await connection.close()
    },
  } satisfies SessionStore
}
