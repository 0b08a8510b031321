import { createRequire } from 'node:module'
import type Database from 'better-sqlite3'
import {
  ConfigurationError,
  MissingDependencyError,
  SessionExistsError,
  SessionMeshError,
  SessionNotFoundError,
  StaleFenceError,
  StoreUnavailableError,
  VersionConflictError,
} from '../../core/errors.js'
import { retryWhileBusy } from '../../core/busy-retry.js'
import { applyAtomic, checkSessionBytes } from '../../core/ops.js'
import { type ApplyConditions, expiryOf, type LoadOptions, type ScanPage, type SessionDelta, type SessionStore, type StoredSession } from '../../core/store.js'
import { isSqliteBusy, SQLITE_ATTEMPT_WAIT_MS } from '../../cluster/bus/sqlite.js'
import { migrate, tableNames } from './schema.js'

export interface SqliteStoreOptions {
  /** The database file, created if missing; `':memory:'` for a private in-memory database (tests). */
  path: string
  /**
   * How long an operation keeps retrying while another process holds the write lock, before
   * failing with StoreUnavailableError (503). The retries wait on timers, so the process keeps
   * serving other requests meanwhile. Default 5000 ms.
   */
  busyTimeoutMs?: number
  /** Table-name prefix, so several apps can share one file. Default `sessionmesh`. */
  table?: string
}

interface SessionRow {
  id: string
  created_at: number
  last_accessed_at: number
  id_issued_at: number
  idle_ms: number
  absolute_ms: number
  expires_at: number
  principal: string | null
  version: number
  fence: number
}
type AttributeRow = { session_id: string; name: string; value: string }
type Expired = { id: string; principal: string | null }

function loadDriver(): typeof Database {
  try {
    return createRequire(import.meta.url)('better-sqlite3') as typeof Database
  } catch (e) {
    const code = (e as { code?: unknown } | null)?.code
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
      throw new MissingDependencyError('better-sqlite3', 'sqliteStore', { cause: e })
    }
    throw e
  }
}

/** A LIMIT value: whole and non-negative; SQLite reads -1 as "no limit". */
const sqlLimit = (n: number, min = 0) => (Number.isFinite(n) ? Math.max(min, Math.floor(n)) : -1)

/** Driver failures (SQLITE_BUSY past the timeout, I/O errors, a closed db) become StoreUnavailableError. */
function storeError(e: unknown, context = 'sqlite store'): SessionMeshError {
  if (e instanceof SessionMeshError) return e
  return new StoreUnavailableError(`${context}: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
}

/**
 * Runs one synchronous driver call (a whole transaction) as the promise the contract wants;
 * while another process holds the write lock, retries it on timers until `busyTimeoutMs`.
 */
function guarded(db: Database.Database, busyTimeoutMs: number) {
  return async <T>(fn: () => T): Promise<T> => {
    try {
      return await retryWhileBusy(fn, { isBusy: isSqliteBusy, deadlineMs: busyTimeoutMs, alive: () => db.open })
    } catch (e) {
      if (isSqliteBusy(e)) throw storeError(e, `sqlite store: the database stayed locked by another process for ${busyTimeoutMs} ms`)
      throw storeError(e)
    }
  }
}

/**
 * A session store in one SQLite file that every process on a host can share (WAL mode;
 * each write is one `BEGIN IMMEDIATE` transaction). A write that finds another process
 * holding the lock is retried whole on timers for up to `busyTimeoutMs`, so the event loop
 * never sits in SQLite's own busy wait. Attributes are stored one row each, so a save
 * writes only the attributes it changed. Needs the optional peer dependency
 * `better-sqlite3`; do not put the file on a network filesystem.
 *
 * @example
 * import { sqliteStore } from 'sessionmesh/sqlite'
 * const store = sqliteStore({ path: '/var/lib/myapp/sessions.db' })
 * const sessions = createSessions({ store, secret })
 * // later: await store.close()
 */
export function sqliteStore(options: SqliteStoreOptions) {
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000
  if (!options.path) throw new ConfigurationError('sqliteStore: `path` is required')
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new ConfigurationError(`sqliteStore: busyTimeoutMs must be a non-negative integer, got ${busyTimeoutMs}`)
  }
  const t = tableNames(options.table ?? 'sessionmesh')
  const Driver = loadDriver()

  let db: Database.Database | undefined
  try {
    db = new Driver(options.path, { timeout: busyTimeoutMs })
    db.pragma(`busy_timeout = ${busyTimeoutMs}`)
    db.pragma('journal_mode = WAL') // stays 'memory' for ':memory:'
    db.pragma('synchronous = NORMAL') // durable across process crashes; WAL makes it safe
    migrate(db, t)
    // Opening may wait (synchronously, once) for the lock; every later call only tries briefly
    // and leaves the waiting to the timers of `guard`.
    db.pragma(`busy_timeout = ${SQLITE_ATTEMPT_WAIT_MS}`)
  } catch (e) {
    db?.close()
    throw storeError(e, `sqlite store: cannot open ${options.path}`)
  }

  const guard = guarded(db, busyTimeoutMs)
  const S = `"${t.sessions}"`
  const A = `"${t.attributes}"`
  const COLUMNS = 'id, created_at, last_accessed_at, id_issued_at, idle_ms, absolute_ms, expires_at, principal, version, fence'
  const q = {
    row: db.prepare<[string], SessionRow>(`SELECT ${COLUMNS} FROM ${S} WHERE id = ?`),
    liveRow: db.prepare<[string, number], SessionRow>(`SELECT ${COLUMNS} FROM ${S} WHERE id = ? AND expires_at > ?`),
    attrs: db.prepare<[string], AttributeRow>(`SELECT session_id, name, value FROM ${A} WHERE session_id = ?`),
    insert: db.prepare<[SessionRow]>(
      `INSERT INTO ${S} (${COLUMNS}) VALUES (@id, @created_at, @last_accessed_at, @id_issued_at, @idle_ms, @absolute_ms, @expires_at, @principal, @version, @fence)`,
    ),
    update: db.prepare<[string | null, number, number, number, number, string]>(
      `UPDATE ${S} SET principal = ?, fence = ?, last_accessed_at = ?, expires_at = ?, version = ? WHERE id = ?`,
    ),
    touch: db.prepare<[number, number, string, number]>(
      `UPDATE ${S} SET last_accessed_at = ?, expires_at = ? WHERE id = ? AND expires_at > ?`,
    ),
    deleteSession: db.prepare<[string]>(`DELETE FROM ${S} WHERE id = ?`),
    setAttr: db.prepare<[string, string, string]>(
      `INSERT INTO ${A} (session_id, name, value) VALUES (?, ?, ?) ON CONFLICT (session_id, name) DO UPDATE SET value = excluded.value`,
    ),
    deleteAttr: db.prepare<[string, string]>(`DELETE FROM ${A} WHERE session_id = ? AND name = ?`),
    deleteAttrs: db.prepare<[string]>(`DELETE FROM ${A} WHERE session_id = ?`),
    moveAttrs: db.prepare<[string, string]>(`UPDATE ${A} SET session_id = ? WHERE session_id = ?`),
    copySession: db.prepare<[string, number, string]>(
      `INSERT INTO ${S} (${COLUMNS}) SELECT ?, created_at, last_accessed_at, ?, idle_ms, absolute_ms, expires_at, principal, version, fence FROM ${S} WHERE id = ?`,
    ),
    byPrincipal: db.prepare<[string, number], string>(`SELECT id FROM ${S} WHERE principal = ? AND expires_at > ?`).pluck(),
    firstPage: db.prepare<[number, number], SessionRow>(
      `SELECT ${COLUMNS} FROM ${S} WHERE expires_at > ? ORDER BY id LIMIT ?`,
    ),
    nextPage: db.prepare<[string, number, number], SessionRow>(
      `SELECT ${COLUMNS} FROM ${S} WHERE id > ? AND expires_at > ? ORDER BY id LIMIT ?`,
    ),
    expired: db.prepare<[number, number], Expired>(
      `SELECT id, principal FROM ${S} WHERE expires_at <= ? ORDER BY expires_at LIMIT ?`,
    ),
    count: db.prepare<[number], number>(`SELECT count(*) FROM ${S} WHERE expires_at > ?`).pluck(),
    attr: db.prepare<[string, string], string>(`SELECT value FROM ${A} WHERE session_id = ? AND name = ?`).pluck(),
    // UTF-8 bytes of names and values, as maxSize counts them (length() of TEXT counts characters).
    bytes: db.prepare<[string], number | null>(`SELECT SUM(length(CAST(name AS BLOB)) + length(CAST(value AS BLOB))) FROM ${A} WHERE session_id = ?`).pluck(),
    lease: db.prepare<[string, number], { owner: string | null; until: number; fence: number }>(
      `SELECT lock_owner AS owner, lock_until AS until, fence FROM ${S} WHERE id = ? AND expires_at > ?`,
    ),
    takeLease: db.prepare<[string, number, string]>(`UPDATE ${S} SET lock_owner = ?, lock_until = ?, fence = fence + 1 WHERE id = ?`),
    extendLease: db.prepare<[number, string, string, number, number]>(
      `UPDATE ${S} SET lock_until = ? WHERE id = ? AND lock_owner = ? AND lock_until > ? AND expires_at > ?`,
    ),
    dropLease: db.prepare<[string, string]>(`UPDATE ${S} SET lock_owner = NULL, lock_until = 0 WHERE id = ? AND lock_owner = ?`),
    raiseFence: db.prepare<[string, number], number>(`UPDATE ${S} SET fence = fence + 1 WHERE id = ? AND expires_at > ? RETURNING fence`).pluck(),
  }

  const toSession = (row: SessionRow): StoredSession => {
    const attributes = new Map<string, string>()
    for (const a of q.attrs.all(row.id)) attributes.set(a.name, a.value)
    return {
      id: row.id,
      attributes,
      createdAt: row.created_at,
      lastAccessedAt: row.last_accessed_at,
      idIssuedAt: row.id_issued_at,
      idleTimeoutMs: row.idle_ms,
      absoluteTimeoutMs: row.absolute_ms,
      expiresAt: row.expires_at,
      principal: row.principal,
      version: row.version,
      fence: row.fence,
    }
  }
  const remove = (id: string) => {
    q.deleteAttrs.run(id)
    return q.deleteSession.run(id).changes > 0
  }

  // Reads of two statements share one deferred transaction (one snapshot); writes take the
  // write lock up front with BEGIN IMMEDIATE, so a read never has to be upgraded mid-way.
  const tx = {
    load: db.transaction((id: string, now: number) => {
      const row = q.liveRow.get(id, now)
      return row ? toSession(row) : null
    }),
    create: db.transaction((s: StoredSession) => {
      const existing = q.row.get(s.id)
      if (existing && existing.expires_at > s.lastAccessedAt) throw new SessionExistsError(s.id)
      if (existing) remove(s.id)
      q.insert.run({
        id: s.id,
        created_at: s.createdAt,
        last_accessed_at: s.lastAccessedAt,
        id_issued_at: s.idIssuedAt,
        idle_ms: s.idleTimeoutMs,
        absolute_ms: s.absoluteTimeoutMs,
        expires_at: s.expiresAt,
        principal: s.principal,
        version: s.version,
        fence: s.fence,
      })
      for (const [name, value] of s.attributes) q.setAttr.run(s.id, name, value)
    }),
    apply: db.transaction((id: string, delta: SessionDelta, c: ApplyConditions) => {
      const row = q.liveRow.get(id, delta.lastAccessedAt)
      if (!row) throw new SessionNotFoundError(id)
      if (c.expectedVersion !== undefined && c.expectedVersion !== row.version) {
        throw new VersionConflictError(id, c.expectedVersion, row.version)
      }
      if (c.fence !== undefined && c.fence < row.fence) throw new StaleFenceError(id, c.fence, row.fence)
      // Everything that can refuse (atomic results, the session's size) is computed before
      // the first write; a refusal throws and the transaction rolls back all the same.
      let values: Map<string, string> | undefined
      for (const [name, change] of delta.attributes) {
        if (change.op === 'set' || change.op === 'delete') continue
        values ??= new Map()
        values.set(name, applyAtomic(name, q.attr.get(id, name), change, delta.maxValueBytes))
      }
      checkSessionBytes(delta, (name) => q.attr.get(id, name), values, () => q.bytes.get(id) ?? 0)
      for (const [name, change] of delta.attributes) {
        if (change.op === 'delete') q.deleteAttr.run(id, name)
        else q.setAttr.run(id, name, change.op === 'set' ? change.value : (values?.get(name) as string))
      }
      const version = row.version + 1
      const principal = delta.principal !== undefined ? delta.principal : row.principal
      q.update.run(principal, Math.max(c.fence ?? 0, row.fence), delta.lastAccessedAt, delta.expiresAt, version, id)
      return values ? { version, values } : { version }
    }),
    lock: db.transaction((id: string, owner: string, ttlMs: number, now: number) => {
      const lease = q.lease.get(id, now)
      if (!lease) throw new SessionNotFoundError(id)
      if (lease.owner !== null && lease.owner !== owner && lease.until > now) return null
      q.takeLease.run(owner, now + ttlMs, id)
      return lease.fence + 1
    }),
    raiseFence: db.transaction((id: string, now: number) => {
      const fence = q.raiseFence.get(id, now)
      if (fence === undefined) throw new SessionNotFoundError(id)
      return fence
    }),
    touch: db.transaction((id: string, lastAccessedAt: number, expiresAt: number) => {
      return q.touch.run(lastAccessedAt, expiresAt, id, lastAccessedAt).changes > 0
    }),
    destroy: db.transaction((id: string) => remove(id)),
    changeId: db.transaction((oldId: string, newId: string, now: number) => {
      if (!q.liveRow.get(oldId, now)) return false
      const taken = q.row.get(newId)
      if (taken && taken.expires_at > now) throw new SessionExistsError(newId)
      if (taken) remove(newId)
      q.copySession.run(newId, now, oldId)
      q.deleteSession.run(oldId)
      q.moveAttrs.run(newId, oldId)
      return true
    }),
    scan: db.transaction((cursor: string | null, limit: number, now: number): ScanPage => {
      // One row past the page tells whether another page exists, so the last page says null.
      const want = limit < 0 ? -1 : limit + 1
      const rows = cursor === null ? q.firstPage.all(now, want) : q.nextPage.all(cursor, now, want)
      const page = limit < 0 ? rows : rows.slice(0, limit)
      const last = page[page.length - 1]
      return { sessions: page.map(toSession), cursor: page.length < rows.length && last ? last.id : null }
    }),
    sweep: db.transaction((now: number, limit: number) => {
      const expired = q.expired.all(now, limit)
      for (const e of expired) remove(e.id)
      return expired
    }),
  }

  return {
    kind: 'sqlite',
    // apply computes increment, append and merge inside its BEGIN IMMEDIATE transaction.
    atomic: true,
    // apply refuses a delta that grows the session past maxSessionBytes, in the same transaction.
    limitsSize: true,

    load: (id, now, options?: LoadOptions) => {
      const interval = options?.touchIntervalMs
      if (interval === undefined) return guard(() => tx.load.deferred(id, now))
      return guard(() => {
        const s = tx.load.deferred(id, now)
        if (!s || now - s.lastAccessedAt < interval) return s
        // Rare (once per touchInterval per session): a second, writing statement. The read
        // above stays lock-free for the common case; `touch` re-checks liveness itself.
        const expiresAt = expiryOf({ ...s, lastAccessedAt: now })
        try {
          if (!tx.touch.immediate(id, now, expiresAt)) return null
        } catch (e) {
          // Another process holds the write lock: a read does not wait for it. The session is
          // served as loaded (untouched); the touch is due again on the next load.
          if (isSqliteBusy(e)) return s
          throw e
        }
        return { ...s, lastAccessedAt: now, expiresAt }
      })
    },

    create: (session) => guard(() => tx.create.immediate(session)),

    apply: (id, delta: SessionDelta, conditions: ApplyConditions = {}) =>
      guard(() => tx.apply.immediate(id, delta, conditions)),

    lock: (id, owner, ttlMs, now) => guard(() => tx.lock.immediate(id, owner, ttlMs, now)),

    extendLock: (id, owner, ttlMs, now) => guard(() => q.extendLease.run(now + ttlMs, id, owner, now, now).changes > 0),

    unlock: (id, owner) => guard(() => q.dropLease.run(id, owner).changes > 0),

    raiseFence: (id, now) => guard(() => tx.raiseFence.immediate(id, now)),

    touch: (id, lastAccessedAt, expiresAt) => guard(() => tx.touch.immediate(id, lastAccessedAt, expiresAt)),

    destroy: (id) => guard(() => tx.destroy.immediate(id)),

    changeId: (oldId, newId, now) => guard(() => tx.changeId.immediate(oldId, newId, now)),

    findByPrincipal: (principal, now) => guard(() => q.byPrincipal.all(principal, now)),

    scan: ({ cursor, limit, now }) =>
      guard(() => tx.scan.deferred(cursor ?? null, sqlLimit(limit, 1), now)),

    sweep: (now, limit = Number.POSITIVE_INFINITY) => guard(() => tx.sweep.immediate(now, sqlLimit(limit))),

    count: (now) => guard(() => q.count.get(now) ?? 0),

    async close() {
      if (db.open) db.close()
    },
  } satisfies SessionStore
}

// The SQLite change bus ships with its backend's subpath.
export { sqliteBus } from '../../cluster/bus/sqlite.js'
export type { SqliteBusOptions } from '../../cluster/bus/sqlite.js'
