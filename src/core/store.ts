/**
 * The session store contract. Small on purpose: every method is ONE atomic operation on
 * the store, so a store backed by Redis is one Lua script per call and a store backed by
 * SQLite is one transaction per call.
 *
 * Ten operations are required (load, create, apply with set/delete, destroy, changeId,
 * touch, findByPrincipal, scan, sweep, close). The rest are optional: the core falls back
 * (atomic changes by compare-and-set over `load` + `apply`; `count` by scanning) or says at
 * setup what is missing (locks). `sessionmesh/testing` proves a store against all of it.
 *
 * Attribute values reach the store already encoded (JSON, optionally encrypted): a store
 * never parses them. Times are epoch milliseconds.
 */

/** What a store keeps for one session. */
export interface StoredSession {
  id: string
  /** Encoded attribute values by name. Names may be anything, `__proto__` included. */
  attributes: Map<string, string>
  createdAt: number
  lastAccessedAt: number
  /** When the current id was issued (creation, regenerate or renewal). */
  idIssuedAt: number
  idleTimeoutMs: number
  absoluteTimeoutMs: number
  /** min(lastAccessedAt + idle, createdAt + absolute); the store may drop the session after it. */
  expiresAt: number
  principal: string | null
  /** Rises by one on every applied delta; starts at 1. */
  version: number
  /** The highest fencing token issued by a lock or carried by a save; 0 when none has been. */
  fence: number
}

/**
 * A change to one attribute. `set` and `delete` are blind writes; the others are atomic
 * read-modify-writes the store performs on the stored JSON text in the same operation
 * (values given here are JSON text too), so concurrent ones never lose each other:
 * - `increment`: the stored number (absent: 0) plus `by`;
 * - `append`: the stored array (absent: []) with one more element;
 * - `merge`: the stored object (absent: {}) with these top-level fields set.
 * A stored value of the wrong type refuses the whole delta (AttributeTypeError). The new
 * value of each such attribute comes back in `ApplyResult.values`.
 */
export type AttributeChange =
  | { op: 'set'; value: string }
  | { op: 'delete' }
  | { op: 'increment'; by: number }
  | { op: 'append'; value: string }
  | { op: 'merge'; fields: ReadonlyArray<readonly [name: string, value: string]> }

/** The changes a store computes from what it holds (everything but `set` and `delete`). */
export type AtomicChange = Exclude<AttributeChange, { op: 'set' } | { op: 'delete' }>

/** Everything one save changes; nothing else in the session is touched. */
export interface SessionDelta {
  attributes: Map<string, AttributeChange>
  /** Present when the principal changed (null clears it). */
  principal?: string | null
  lastAccessedAt: number
  expiresAt: number
  /**
   * Most bytes an attribute changed by an atomic operation may hold afterwards; a larger
   * result refuses the delta (SessionTooLargeError). Blind `set`s are sized by the caller.
   */
  maxValueBytes?: number
  /**
   * Most bytes the whole session (attribute names + stored values, as `maxSize` counts them)
   * may hold after the delta, blind sets included. A store that declares `limitsSize` checks
   * it in the same atomic step as the write, against what it holds (not what the request
   * read): a delta that would leave the session larger than this AND larger than before is
   * refused with SessionTooLargeError and writes nothing; one that shrinks it or keeps its
   * size always applies, so a session over the limit stays writable downwards. The core sets
   * it from `maxSize` on every delta.
   */
  maxSessionBytes?: number
}

/** Conditions a store checks atomically before applying a delta. */
export interface ApplyConditions {
  /** Apply only if the stored version equals this (compare-and-set). */
  expectedVersion?: number
  /** A fencing token: refused if lower than the session's fence, else stored as the fence if higher. */
  fence?: number
}

export interface LoadOptions {
  touchIntervalMs?: number
}

export interface ApplyResult {
  version: number
  /** The stored (JSON) value after the delta of each attribute an atomic operation changed. */
  values?: Map<string, string> | undefined
}

export interface ScanPage {
  sessions: StoredSession[]
  /** Pass back to get the next page; null when the scan is complete. */
  cursor: string | null
}

/** What a store's change feed reports (see `SessionStore.watch`). */
export interface StoreWatchListener {
  /**
   * Session `id` changed: saved at `version`, or (null) destroyed or moved to another id.
   * A copy at `version` or later is still current.
   */
  changed(id: string, version: number | null): void
  /** The feed is delivering (true) or may be missing changes (false). */
  status(connected: boolean): void
}

export interface StoreWatch {
  close(): Promise<void>
}

/** The session store interface. Implementations `satisfies SessionStore`. */
export interface SessionStore {
  /** A short name for logs and metrics, e.g. `memory`, `sqlite`. */
  readonly kind: string
  /**
   * Optional: true when `apply` computes atomic changes (`increment`, `append`, `merge`)
   * itself, in the same atomic step. Without it the core never sends one: it reads, computes
   * and applies a `set` with `expectedVersion`, retrying after a concurrent save.
   */
  readonly atomic?: boolean
  /**
   * Optional: true when `apply` enforces `SessionDelta.maxSessionBytes` itself, atomically.
   * Without it the limit is the core's per-request check only: concurrent requests that each
   * stay under it can together grow a session past it.
   */
  readonly limitsSize?: boolean
  /**
   * One atomic read. Returns null if absent or past `expiresAt` at `now`. With
   * `touchIntervalMs`, a live session last accessed at least that long ago is touched in the
   * same operation (lastAccessedAt = now, expiresAt recomputed) and returned touched, so a
   * read-only request never needs a second store call for its coalesced touch.
   */
  load(id: string, now: number, options?: LoadOptions): Promise<StoredSession | null>
  /** Atomically insert a new session; SessionExistsError if the id is taken. */
  create(session: StoredSession): Promise<void>
  /**
   * Atomically apply a delta (atomic changes only if `atomic` is true): refuses (SessionNotFoundError) if the session does not exist
   * or has expired, so a destroyed session is never resurrected; checks the conditions
   * (VersionConflictError, StaleFenceError); bumps the version.
   */
  apply(id: string, delta: SessionDelta, conditions?: ApplyConditions): Promise<ApplyResult>
  /**
   * Optional (all four of `lock`, `extendLock`, `unlock`, `raiseFence`, or none; without them
   * `withLock` is refused with ConfigurationError, and no `fence` condition ever reaches `apply`).
   * Take the session's lease lock for `owner` if no other owner holds an unexpired one (the
   * same owner re-taking it renews it), and raise the session's fence by one in the same
   * operation: returns the new fence, or null if another owner holds the lock.
   * SessionNotFoundError if the session does not exist. Every later `apply` carrying a
   * lower fence is refused, so a holder that lost its lease cannot write after the next one took it.
   */
  lock?(id: string, owner: string, ttlMs: number, now: number): Promise<number | null>
  /** Optional, with `lock`: extend `owner`'s lease to now + ttlMs; false if `owner` no longer holds it. */
  extendLock?(id: string, owner: string, ttlMs: number, now: number): Promise<boolean>
  /** Optional, with `lock`: release the lease if `owner` holds it; false otherwise. Never releases another owner's lease. */
  unlock?(id: string, owner: string): Promise<boolean>
  /**
   * Raise the session's fence by one without a lease and return it (quorum locks hold their
   * lease on other servers and take their fence here). SessionNotFoundError if absent.
   */
  raiseFence?(id: string, now: number): Promise<number>
  /** Atomically record an access; false (and no write) if the session does not exist. */
  touch(id: string, lastAccessedAt: number, expiresAt: number): Promise<boolean>
  /** Atomically remove the session and its attributes; false if it did not exist. */
  destroy(id: string): Promise<boolean>
  /**
   * Atomically move a session to a new id (attributes, principal, version kept; idIssuedAt
   * set to `now`). False if `oldId` does not exist; SessionExistsError if `newId` does.
   */
  changeId(oldId: string, newId: string, now: number): Promise<boolean>
  /** Ids of the live sessions whose principal is `principal`. */
  findByPrincipal(principal: string, now: number): Promise<string[]>
  /** Page through live sessions in a stable order. */
  scan(options: { cursor?: string | null; limit: number; now: number }): Promise<ScanPage>
  /**
   * Atomically delete sessions past `expiresAt` and return their ids. Each expired id is
   * returned by exactly one sweep, even with several processes sweeping one store.
   */
  sweep(now: number, limit?: number): Promise<Array<{ id: string; principal: string | null }>>
  /** Optional: number of live sessions (approximate is acceptable for big stores). The core's fallback scans. */
  count?(now: number): Promise<number>
  /**
   * Optional: every change any instance makes to a session (save, destroy, id change),
   * announced by the store in the same atomic step as the change itself, so no change goes
   * unannounced even if its writer dies right after. The near cache relies on it where the
   * store offers it (the Redis store: a PUBLISH inside each write script).
   */
  watch?(listener: StoreWatchListener): StoreWatch
  /** Release connections and timers. */
  close(): Promise<void>
}

/** Shared helper: the expiry rule every store and the manager agree on. */
export function expiryOf(s: {
  createdAt: number
  lastAccessedAt: number
  idleTimeoutMs: number
  absoluteTimeoutMs: number
}): number {
  return Math.min(s.lastAccessedAt + s.idleTimeoutMs, s.createdAt + s.absoluteTimeoutMs)
}
