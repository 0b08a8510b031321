import { SessionExistsError, SessionNotFoundError, StaleFenceError, VersionConflictError } from '../../core/errors.js'
import { applyAtomic, checkSessionBytes, sessionBytes } from '../../core/ops.js'
import { type ApplyConditions, expiryOf, type LoadOptions, type ScanPage, type SessionDelta, type SessionStore, type StoredSession } from '../../core/store.js'

export interface MemoryStoreOptions {
  /** Most sessions kept; past it the least recently used one is evicted. Default 50,000. */
  maxSessions?: number
}

/**
 * A bounded in-process store for one process (tests, a single instance, the demo's
 * fallback). Sessions are copied in and out, so it behaves like a remote store: nothing a
 * handler holds can change stored data without a save.
 *
 * @example
 * const sessions = createSessions({ store: memoryStore({ maxSessions: 10_000 }), secret })
 */
export function memoryStore(options: MemoryStoreOptions = {}) {
  const maxSessions = options.maxSessions ?? 50_000
  // Map order is recency order: every access re-inserts, so the first key is the LRU.
  const sessions = new Map<string, StoredSession>()
  const byPrincipal = new Map<string, Set<string>>()
  const leases = new Map<string, { owner: string; until: number }>()

  const index = (id: string, principal: string | null) => {
    if (principal === null) return
    let ids = byPrincipal.get(principal)
    if (!ids) byPrincipal.set(principal, (ids = new Set()))
    ids.add(id)
  }
  const unindex = (id: string, principal: string | null) => {
    if (principal === null) return
    const ids = byPrincipal.get(principal)
    ids?.delete(id)
    if (ids?.size === 0) byPrincipal.delete(principal)
  }
  const remove = (s: StoredSession) => {
    sessions.delete(s.id)
    leases.delete(s.id)
    unindex(s.id, s.principal)
  }
  // Expired sessions stay until `sweep` takes them, so each expiry is reported exactly once.
  const live = (id: string, now: number): StoredSession | undefined => {
    const s = sessions.get(id)
    return s && s.expiresAt > now ? s : undefined
  }
  const bump = (s: StoredSession) => {
    sessions.delete(s.id)
    sessions.set(s.id, s)
  }
  const copy = (s: StoredSession): StoredSession => ({ ...s, attributes: new Map(s.attributes) })

  return {
    kind: 'memory',
    // apply computes increment, append and merge itself, inside its one synchronous step.
    atomic: true,
    // apply refuses a delta that grows the session past maxSessionBytes, in the same step.
    limitsSize: true,

    async load(id, now, options?: LoadOptions) {
      const s = live(id, now)
      if (!s) return null
      bump(s)
      const interval = options?.touchIntervalMs
      if (interval !== undefined && now - s.lastAccessedAt >= interval) {
        s.lastAccessedAt = now
        s.expiresAt = expiryOf(s)
      }
      return copy(s)
    },

    async create(session) {
      const existing = sessions.get(session.id)
      if (existing && existing.expiresAt > session.lastAccessedAt) throw new SessionExistsError(session.id)
      if (existing) remove(existing)
      sessions.set(session.id, copy(session))
      index(session.id, session.principal)
      while (sessions.size > maxSessions) {
        const oldest = sessions.values().next().value
        if (oldest) remove(oldest)
      }
    },

    async apply(id, delta: SessionDelta, conditions: ApplyConditions = {}) {
      const s = live(id, delta.lastAccessedAt)
      if (!s) throw new SessionNotFoundError(id)
      if (conditions.expectedVersion !== undefined && conditions.expectedVersion !== s.version) {
        throw new VersionConflictError(id, conditions.expectedVersion, s.version)
      }
      if (conditions.fence !== undefined && conditions.fence < s.fence) {
        throw new StaleFenceError(id, conditions.fence, s.fence)
      }
      // Every atomic result is computed before anything changes: a refused delta leaves no trace.
      let values: Map<string, string> | undefined
      for (const [name, change] of delta.attributes) {
        if (change.op === 'set' || change.op === 'delete') continue
        values ??= new Map()
        values.set(name, applyAtomic(name, values.get(name) ?? s.attributes.get(name), change, delta.maxValueBytes))
      }
      checkSessionBytes(delta, (name) => s.attributes.get(name), values, () => sessionBytes(s.attributes))
      for (const [name, change] of delta.attributes) {
        if (change.op === 'set') s.attributes.set(name, change.value)
        else if (change.op === 'delete') s.attributes.delete(name)
        else s.attributes.set(name, values?.get(name) as string)
      }
      if (delta.principal !== undefined && delta.principal !== s.principal) {
        unindex(id, s.principal)
        s.principal = delta.principal
        index(id, s.principal)
      }
      if (conditions.fence !== undefined && conditions.fence > s.fence) s.fence = conditions.fence
      s.lastAccessedAt = delta.lastAccessedAt
      s.expiresAt = delta.expiresAt
      s.version += 1
      bump(s)
      return values ? { version: s.version, values } : { version: s.version }
    },

    async lock(id, owner, ttlMs, now) {
      const s = live(id, now)
      if (!s) throw new SessionNotFoundError(id)
      const held = leases.get(id)
      if (held && held.owner !== owner && held.until > now) return null
      leases.set(id, { owner, until: now + ttlMs })
      s.fence += 1
      return s.fence
    },

    async extendLock(id, owner, ttlMs, now) {
      const held = leases.get(id)
      if (!held || held.owner !== owner || held.until <= now || !live(id, now)) return false
      held.until = now + ttlMs
      return true
    },

    async unlock(id, owner) {
      if (leases.get(id)?.owner !== owner) return false
      leases.delete(id)
      return true
    },

    async raiseFence(id, now) {
      const s = live(id, now)
      if (!s) throw new SessionNotFoundError(id)
      s.fence += 1
      return s.fence
    },

    async touch(id, lastAccessedAt, expiresAt) {
      const s = live(id, lastAccessedAt)
      if (!s) return false
      s.lastAccessedAt = lastAccessedAt
      s.expiresAt = expiresAt
      bump(s)
      return true
    },

    async destroy(id) {
      const s = sessions.get(id)
      if (!s) return false
      remove(s)
      return true
    },

    async changeId(oldId, newId, now) {
      const s = live(oldId, now)
      if (!s) return false
      const taken = sessions.get(newId)
      if (taken && taken.expiresAt > now) throw new SessionExistsError(newId)
      if (taken) remove(taken)
      remove(s)
      s.id = newId
      s.idIssuedAt = now
      sessions.set(newId, s)
      index(newId, s.principal)
      return true
    },

    async findByPrincipal(principal, now) {
      return [...(byPrincipal.get(principal) ?? [])].filter((id) => live(id, now) !== undefined)
    },

    async scan({ cursor, limit, now }): Promise<ScanPage> {
      // Ids sorted, cursor = last id returned: stable under concurrent inserts and deletes.
      const ids = [...sessions.keys()].sort()
      let start = 0
      if (cursor) {
        start = ids.findIndex((id) => id > cursor)
        if (start === -1) start = ids.length
      }
      const page: StoredSession[] = []
      let last: string | null = null
      for (let i = start; i < ids.length && page.length < limit; i++) {
        const id = ids[i] as string
        last = id
        const s = sessions.get(id)
        if (s && s.expiresAt > now) page.push(copy(s))
      }
      const done = last === null || ids.indexOf(last) === ids.length - 1
      return { sessions: page, cursor: done ? null : last }
    },

    async sweep(now, limit = Number.POSITIVE_INFINITY) {
      const expired: Array<{ id: string; principal: string | null }> = []
      for (const s of sessions.values()) {
        if (expired.length >= limit) break
        if (s.expiresAt <= now) expired.push({ id: s.id, principal: s.principal })
      }
      for (const e of expired) {
        const s = sessions.get(e.id)
        if (s) remove(s)
      }
      return expired
    },

    async count(now) {
      let n = 0
      for (const s of sessions.values()) if (s.expiresAt > now) n++
      return n
    },

    async close() {
      sessions.clear()
      byPrincipal.clear()
      leases.clear()
    },
  } satisfies SessionStore
}
