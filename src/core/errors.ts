/**
 * One class per failure. Every error has a stable `code` (for programs), a `name` (for
 * people reading logs) and, where another error caused it, `cause`.
 *
 * @example
 * try { await store.apply(id, delta) } catch (e) {
 *   if (e instanceof SessionNotFoundError) { ... }            // or: e.code === 'SESSION_NOT_FOUND'
 * }
 */
export abstract class SessionMeshError extends Error {
  abstract readonly code: string
  /** The HTTP status an adapter answers with when this error escapes a request. */
  readonly status: number = 500

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** The session was destroyed (or never existed) when a change was applied: nothing is written. */
export class SessionNotFoundError extends SessionMeshError {
  readonly code = 'SESSION_NOT_FOUND'
  constructor(readonly sessionId: string) {
    super(`session ${redactId(sessionId)} does not exist (destroyed or expired)`)
  }
}

/** `create` or `changeId` hit an id that is already taken. */
export class SessionExistsError extends SessionMeshError {
  readonly code = 'SESSION_EXISTS'
  constructor(readonly sessionId: string) {
    super(`session ${redactId(sessionId)} already exists`)
  }
}

/** A save was based on a version that is no longer current (set-if-version). */
export class VersionConflictError extends SessionMeshError {
  readonly code = 'VERSION_CONFLICT'
  override readonly status = 409
  constructor(
    readonly sessionId: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`session ${redactId(sessionId)} is at version ${actual}, not ${expected}`)
  }
}

/** A save carried a fencing token older than one the store has already seen. */
export class StaleFenceError extends SessionMeshError {
  readonly code = 'STALE_FENCE'
  override readonly status = 409
  constructor(
    readonly sessionId: string,
    readonly fence: number,
    readonly current: number,
  ) {
    super(`session ${redactId(sessionId)}: fence ${fence} is older than ${current}`)
  }
}

/** A session grew past `maxSize` bytes; the change that did it is not applied. */
export class SessionTooLargeError extends SessionMeshError {
  readonly code = 'SESSION_TOO_LARGE'
  override readonly status = 413
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`session data would be ${size} bytes, over the limit of ${limit}`)
  }
}

/** An attribute name or value that cannot be stored (not JSON-serialisable, too long a name...). */
export class InvalidAttributeError extends SessionMeshError {
  readonly code = 'INVALID_ATTRIBUTE'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** The store could not be reached or failed; requests answer 503 by default (`onStoreError`). */
export class StoreUnavailableError extends SessionMeshError {
  readonly code: string = 'STORE_UNAVAILABLE'
  override readonly status = 503
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/**
 * A save asked for `durability: 'replicated'` was applied on the primary but not
 * acknowledged by enough replicas in time: it may or may not survive a failover, so it is
 * not reported as saved.
 */
export class NotReplicatedError extends StoreUnavailableError {
  override readonly code = 'NOT_REPLICATED'
  constructor(
    readonly replicas: number,
    readonly acknowledged: number,
    readonly timeoutMs: number,
  ) {
    super(`save reached ${acknowledged} of ${replicas} replica(s) within ${timeoutMs} ms; not acknowledged as durable`)
  }
}

/**
 * Redis did not answer a command within `commandTimeout` (a paused server, a network black
 * hole): the command may still run later, so its outcome is unknown; the connection it waits
 * on is dropped and made again so that later commands do not queue behind it.
 */
export class CommandTimeoutError extends StoreUnavailableError {
  override readonly code = 'COMMAND_TIMEOUT'
  constructor(
    readonly command: string,
    readonly timeoutMs: number,
  ) {
    super(`redis: no answer to ${command} within ${timeoutMs} ms`)
  }
}

/** A session would give its principal more live sessions than `maxSessionsPerPrincipal` allows (policy `refuse`). */
export class TooManySessionsError extends SessionMeshError {
  readonly code = 'TOO_MANY_SESSIONS'
  override readonly status = 409
  constructor(readonly max: number) {
    super(`this user already has the most sessions allowed (${max}); log out elsewhere first`)
  }
}

/** Options that cannot work (no secret, a timeout that is not a duration, ...). */
export class ConfigurationError extends SessionMeshError {
  readonly code = 'CONFIGURATION'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/**
 * An unsafe request (POST, PUT, PATCH, DELETE...) on a cookie session came from another
 * origin (Sec-Fetch-Site, or Origin against Host and `csrf.allowedOrigins`), or carried a
 * synchronizer token that does not match the session: refused before the handler runs.
 */
export class CsrfError extends SessionMeshError {
  readonly code = 'CSRF'
  override readonly status = 403
  constructor(message: string) {
    super(message)
  }
}

/** An optional peer dependency (a store's client library) is not installed. */
export class MissingDependencyError extends SessionMeshError {
  readonly code = 'MISSING_DEPENDENCY'
  constructor(
    readonly packageName: string,
    readonly feature: string,
    options?: { cause?: unknown },
  ) {
    super(`${feature} needs the package "${packageName}": npm install ${packageName}`, options)
  }
}

/** Stored data could not be decrypted or decoded (wrong key, tampered at rest). */
export class SessionDataError extends SessionMeshError {
  readonly code = 'SESSION_DATA'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** The session was used after `destroy()` in the same request. */
export class SessionDestroyedError extends SessionMeshError {
  readonly code = 'SESSION_DESTROYED'
  constructor() {
    super('this session was destroyed during the request')
  }
}

/** Session ids are bearer credentials: logs see only a prefix. */
export function redactId(id: string): string {
  return id.length > 6 ? `${id.slice(0, 6)}…` : '…'
}

/** An atomic operation met a stored value of the wrong type (increment on a string, ...). Nothing is applied. */
export class AttributeTypeError extends SessionMeshError {
  readonly code = 'ATTRIBUTE_TYPE'
  override readonly status = 409
  constructor(
    readonly attribute: string,
    readonly expected: 'number' | 'array' | 'object',
  ) {
    super(`attribute "${attribute.slice(0, 64)}" does not hold ${expected === 'array' ? 'an array' : `a ${expected}`}; the operation was not applied`)
  }
}

/** The session lock could not be taken within `wait`. */
export class LockTimeoutError extends SessionMeshError {
  readonly code = 'LOCK_TIMEOUT'
  override readonly status = 503
  constructor(
    readonly sessionId: string,
    readonly waitedMs: number,
  ) {
    super(`session ${redactId(sessionId)} stayed locked for ${waitedMs} ms; gave up waiting`)
  }
}

/**
 * The lock's lease ran out (a pause, a lost connection) and another holder may have taken
 * it: the callback's pending changes are not saved, and a save it made with the old fence
 * was refused.
 */
export class LockLostError extends SessionMeshError {
  readonly code = 'LOCK_LOST'
  override readonly status = 409
  constructor(
    readonly sessionId: string,
    readonly fence: number,
    options?: { cause?: unknown },
  ) {
    super(`lost the lock on session ${redactId(sessionId)} (fence ${fence}); its changes were not saved`, options)
  }
}

// The change bus's failures.
/** The bus's transport could not be reached or failed (a publish that did not store its event). */
export class BusUnavailableError extends SessionMeshError {
  readonly code: string = 'BUS_UNAVAILABLE'
  override readonly status = 503
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** The bus (or the subscription) was closed before the operation could run. */
export class BusClosedError extends BusUnavailableError {
  override readonly code = 'BUS_CLOSED'
  constructor(what: string) {
    super(`${what}: the bus is closed`)
  }
}

/**
 * An entry on the stream that is not a sessionmesh event (another writer, a newer format, a
 * corrupted row): it is skipped, never delivered, and reported with this error.
 */
export class MalformedEventError extends SessionMeshError {
  readonly code = 'BUS_MALFORMED_EVENT'
  constructor(
    readonly eventId: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`bus entry ${eventId} skipped: ${reason}`, options)
  }
}

/**
 * Events between `after` and `resumedAt` were trimmed from the stream before this subscriber
 * read them (it was away longer than the stream's retention): they are lost to it. A cache
 * that relies on the bus should flush when it sees this.
 */
export class BusGapError extends SessionMeshError {
  readonly code = 'BUS_GAP'
  constructor(
    readonly after: string,
    readonly resumedAt: string,
  ) {
    super(`bus: events after ${after} were trimmed before they were read; resumed at ${resumedAt}`)
  }
}

/** A subscriber's handler threw; the event counts as delivered (the bus does not retry handlers). */
export class BusHandlerError extends SessionMeshError {
  readonly code = 'BUS_HANDLER'
  constructor(
    readonly eventId: string,
    options?: { cause?: unknown },
  ) {
    super(`bus handler failed on event ${eventId}`, options)
  }
}
