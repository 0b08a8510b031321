import { randomBytes } from 'node:crypto'
import type { AttributeCodec } from './codec.js'
import type { CsrfTokens } from './csrf.js'
import { toMs, type Duration } from './duration.js'
import type { CachedSave } from './cached-save.js'
import { ConfigurationError, InvalidAttributeError, SessionDestroyedError, SessionNotFoundError, SessionTooLargeError, VersionConflictError } from './errors.js'
import type { SessionEvents } from './events.js'
import { applyByCompareAndSet, type CompleteStore, type ValueTranslation } from './fallbacks.js'
import { commitSession, holdsAttribute, needsCommit, renewSession } from './internal.js'
import { type HeldLock, runLocked, type SessionLockProvider } from './lock.js'
import { applyAtomic } from './ops.js'
import type { PrincipalSave } from './principal-limit.js'
import type { ApplyConditions, ApplyResult, AtomicChange, AttributeChange, SessionDelta, StoredSession } from './store.js'
import { expiryOf } from './store.js'

/** What a Session needs from its manager. */
export interface SessionRuntime {
  store: CompleteStore
  codec: AttributeCodec
  events: SessionEvents
  idleTimeoutMs: number
  absoluteTimeoutMs: number
  touchIntervalMs: number
  maxSize: number
  /** Wraps a save that gives the session a principal (`maxSessionsPerPrincipal`); null: saved as it is. */
  principalSave: PrincipalSave | null
  locks: SessionLockProvider
  /** Synchronizer tokens (`csrfToken()`); null without signing secrets (interop token formats). */
  csrfTokens: CsrfTokens | null
  newId(): string
  now(): number
}

/** Options of `withLock`. */
export interface WithLockOptions {
  /** Lease length, renewed while the callback runs. Default `10s`. */
  ttl?: Duration
  /** Longest wait while another holder has the lock, then LockTimeoutError. Default `5s`; 0 tries once. */
  wait?: Duration
}

/** What a `withLock` callback gets: `session` is read under the lock and its saves are fenced. */
export type SessionLock = HeldLock<Session>

export interface RegenerateOptions {
  /** Keep the attributes (and principal) under the new id. Default true. */
  keep?: boolean
}

type Callback = (err?: unknown) => void
const MAX_NAME_LENGTH = 256

/**
 * The reserved attribute holding the session's binding: 128 random bits made the first time
 * something needs the session's identity (a value sealed at rest, a CSRF token) and kept
 * with the session's data, so it follows every id change (regenerate, renewal, changeId)
 * without a field in the store contract. The NUL makes it unreachable by accident; `get`,
 * `has`, `keys`, `toJSON` and the view never show it, and `set`/`delete` refuse it.
 */
export const BINDING_ATTRIBUTE = '\u0000sessionmesh.binding'
const BINDING = /^"([A-Za-z0-9_-]{22})"$/

/** A stored session's binding (undefined: none, or malformed), for tools that read records (`sessionmesh show`). */
export function bindingOf(attributes: ReadonlyMap<string, string>): string | undefined {
  const stored = attributes.get(BINDING_ATTRIBUTE)
  return stored === undefined ? undefined : BINDING.exec(stored)?.[1]
}

/**
 * One request's view of a session. Reads come from what was loaded; writes are recorded per
 * attribute and sent to the store as one delta when the request commits (or on `save()`).
 * Nothing is ever written as a whole-session blob.
 *
 * @example
 * session.set('cart', ['sku-1'])
 * session.get<string[]>('cart')
 * await session.regenerate()     // new id, old one dead: fixation defence after login
 */
export class Session {
  #rt: SessionRuntime
  #record: StoredSession
  #persisted: boolean
  /** Decoded values handed out or set during this request, by name. */
  #values = new Map<string, unknown>()
  /** JSON of object values handed out, to notice in-place mutation at commit. */
  #watched = new Map<string, string>()
  #changes = new Map<string, AttributeChange>()
  #principalChanged = false
  #touchRequested = false
  #destroyed = false
  #idChangedFrom: string | null = null
  /** Bytes of names + stored values; computed on the first write so reads never pay for it. */
  #knownSize: number | null = null
  /** Set while this session is saved under a lock: every write carries it. */
  #fence: number | undefined
  /** The near cache's save protocol (null: no near cache). */
  #cached: CachedSave | null

  /** Made by the manager; outside a request, use `sessions.get(id)`. */
  constructor(rt: SessionRuntime, record: StoredSession, persisted: boolean, cached: CachedSave | null = null) {
    this.#rt = rt
    this.#record = record
    this.#persisted = persisted
    this.#cached = cached
  }

  /** The session id. Treat it as a credential: never log it. */
  get id(): string {
    return this.#record.id
  }
  /** True until the session is first saved to the store. */
  get isNew(): boolean {
    return !this.#persisted
  }
  get destroyed(): boolean {
    return this.#destroyed
  }
  get createdAt(): number {
    return this.#record.createdAt
  }
  get lastAccessedAt(): number {
    return this.#record.lastAccessedAt
  }
  get expiresAt(): number {
    return this.#record.expiresAt
  }
  /** createdAt + the absolute timeout: the session ends then whatever the activity. */
  get absoluteExpiresAt(): number {
    return this.#record.createdAt + this.#record.absoluteTimeoutMs
  }
  /** When the current id was issued (creation, regenerate or renewal). */
  get idIssuedAt(): number {
    return this.#record.idIssuedAt
  }
  get version(): number {
    return this.#record.version
  }
  /** The user this session belongs to (indexed: `sessions.findByPrincipal`, `revokePrincipal`). */
  get principal(): string | null {
    return this.#record.principal
  }
  set principal(value: string | null) {
    if (value !== null && (typeof value !== 'string' || value.length === 0 || value.length > MAX_NAME_LENGTH)) {
      throw new InvalidAttributeError('principal must be a non-empty string of at most 256 characters, or null')
    }
    this.#assertUsable()
    if (value === this.#record.principal) return
    this.#record.principal = value
    this.#principalChanged = true
  }

  /** The id this session had before `regenerate()` (or renewal) in this request, if any. */
  get previousId(): string | null {
    return this.#idChangedFrom
  }

  get<T = unknown>(name: string): T | undefined {
    if (this.#values.has(name)) return this.#values.get(name) as T
    if (name === BINDING_ATTRIBUTE) return undefined
    this.#cached?.noteRead(name)
    const stored = this.#record.attributes.get(name)
    if (stored === undefined) return undefined
    const { value, json, stale } = this.#rt.codec.decode(name, stored, this.#binding(false))
    this.#values.set(name, value)
    if (typeof value === 'object' && value !== null) this.#watched.set(name, json)
    // Sealed with an older key (or before encryption was on): reseal on the next save.
    if (stale) this.#changes.set(name, { op: 'set', value: this.#rt.codec.encode(name, value, this.#binding(true)).stored })
    return value as T
  }

  has(name: string): boolean {
    if (name === BINDING_ATTRIBUTE) return false
    if (!this.#values.has(name)) this.#cached?.noteRead(name)
    return this.#record.attributes.has(name)
  }

  keys(): string[] {
    const names = [...this.#record.attributes.keys()]
    return this.#record.attributes.has(BINDING_ATTRIBUTE) ? names.filter((n) => n !== BINDING_ATTRIBUTE) : names
  }

  /** @internal */
  [holdsAttribute](name: string): boolean {
    return name !== BINDING_ATTRIBUTE && this.#record.attributes.has(name)
  }

  /**
   * A synchronizer token for this session, for forms and the apps that want one on top of
   * the built-in origin check: put it in a hidden field or a header, and check what comes
   * back with `verifyCsrfToken` (or `sessions.verifyCsrfToken`). Bound to the session, not
   * its id, so it survives `regenerate()` and renewal; it changes with `regenerate({ keep:
   * false })` and dies with the session. The first call gives the session something to save.
   */
  csrfToken(): string {
    this.#assertUsable()
    return this.#csrfTokens().issue(this.#binding(true))
  }

  /** Whether `token` (anything a client sent) is this session's CSRF token; timing-safe. */
  verifyCsrfToken(token: unknown): boolean {
    const binding = this.#binding(false)
    return binding !== undefined && !this.#destroyed && this.#csrfTokens().verify(binding, token)
  }

  /** The binding a value is sealed with: made when first needed, and only when values are sealed. */
  #sealBinding(): string | undefined {
    return this.#rt.codec.plain ? undefined : this.#binding(true)
  }

  /** A delta's attributes with the binding added when it was just made: a value sealed under it must not be stored without it. */
  #withPendingBinding(attributes: Map<string, AttributeChange>): Map<string, AttributeChange> {
    const pending = this.#changes.get(BINDING_ATTRIBUTE)
    if (pending) attributes.set(BINDING_ATTRIBUTE, pending)
    return attributes
  }

  #csrfTokens(): CsrfTokens {
    const tokens = this.#rt.csrfTokens
    if (!tokens) throw new ConfigurationError('csrfToken() needs signing secrets (`secret`); an interop token format has none')
    return tokens
  }

  /**
   * The session's binding (see BINDING_ATTRIBUTE); with `create`, made now if it has none
   * (recorded as a change, so the session is saved with it). A malformed stored binding is
   * replaced only by `create`: values sealed under it then no longer open (SessionDataError).
   */
  #binding(create: true): string
  #binding(create: boolean): string | undefined
  #binding(create: boolean): string | undefined {
    const found = bindingOf(this.#record.attributes)
    if (found !== undefined || !create) return found
    const binding = randomBytes(16).toString('base64url')
    const json = JSON.stringify(binding)
    this.#resize(BINDING_ATTRIBUTE, json)
    this.#record.attributes.set(BINDING_ATTRIBUTE, json)
    this.#changes.set(BINDING_ATTRIBUTE, { op: 'set', value: json })
    return binding
  }

  /**
   * Records a new value (undefined deletes). Throws InvalidAttributeError for values JSON
   * cannot hold and SessionTooLargeError past `maxSize`; nothing is recorded then.
   */
  set(name: string, value: unknown): this {
    checkName(name)
    this.#assertUsable()
    if (value === undefined) return this.delete(name)
    const { stored, json } = this.#rt.codec.encode(name, value, this.#sealBinding())
    this.#resize(name, stored)
    this.#record.attributes.set(name, stored)
    this.#changes.set(name, { op: 'set', value: stored })
    this.#values.set(name, value)
    if (typeof value === 'object' && value !== null) this.#watched.set(name, json)
    else this.#watched.delete(name)
    return this
  }

  delete(name: string): this {
    checkName(name)
    this.#assertUsable()
    this.#resize(name, undefined)
    this.#record.attributes.delete(name)
    this.#values.delete(name)
    this.#watched.delete(name)
    this.#changes.set(name, { op: 'delete' })
    return this
  }

  /** Every attribute as a plain (null-prototype) object. */
  toJSON(): Record<string, unknown> {
    const out = Object.create(null) as Record<string, unknown>
    for (const name of this.keys()) out[name] = this.get(name)
    return out
  }

  /**
   * Adds `by` to a number attribute (absent counts as 0) in the store, atomically, now:
   * concurrent increments from any number of requests and instances all count. Returns the
   * new value. AttributeTypeError if the attribute holds something else.
   *
   * @example
   * const views = await req.session.increment('views')
   */
  async increment(name: string, by = 1): Promise<number> {
    if (typeof by !== 'number' || !Number.isFinite(by)) throw new InvalidAttributeError('increment: by must be a finite number')
    return (await this.#atomic(name, { op: 'increment', by })) as number
  }

  /** Appends one element to an array attribute (absent counts as []) atomically, now; returns the new array. */
  async append<T = unknown>(name: string, value: T): Promise<T[]> {
    const json = this.#rt.codec.json(name, value)
    return (await this.#atomic(name, { op: 'append', value: json })) as T[]
  }

  /**
   * Sets top-level fields of an object attribute (absent counts as {}) atomically, now;
   * fields other requests set meanwhile are kept. Returns the new object.
   */
  async merge<T extends Record<string, unknown>>(name: string, fields: Partial<T>): Promise<T> {
    if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw new InvalidAttributeError('merge: fields must be an object')
    const pairs: Array<[string, string]> = []
    for (const [field, value] of Object.entries(fields)) {
      if (value !== undefined) pairs.push([field, this.#rt.codec.json(name, value)])
    }
    return (await this.#atomic(name, { op: 'merge', fields: pairs })) as T
  }

  /**
   * Compare-and-set: stores `value` now only if the session is still at `version` (default:
   * the version this request read). False, and nothing written, if anyone saved since.
   */
  async setIfVersion(name: string, value: unknown, version: number = this.#record.version): Promise<boolean> {
    checkName(name)
    this.#assertUsable()
    if (!this.#persisted) {
      if (version !== this.#record.version) return false
      this.set(name, value)
      await this.#write(this.#rt.now(), true)
      return true
    }
    const { stored } = this.#rt.codec.encode(name, value, this.#sealBinding())
    const delta = this.#deltaOf(this.#withPendingBinding(new Map([[name, { op: 'set', value: stored }]])))
    try {
      this.#adoptVersion(await this.#rt.store.apply(this.#record.id, delta, { ...this.#conditions(), expectedVersion: version }))
    } catch (e) {
      if (e instanceof VersionConflictError) return false
      this.#noteGone(e)
      throw e
    }
    this.#stored(name, stored, delta)
    return true
  }

  /**
   * Runs `fn` holding this session's lock: the session is saved first if it has changes,
   * re-read under the lock, and saved with the lock's fence when `fn` returns, so a holder
   * that paused past its lease cannot overwrite what the next holder wrote (LockLostError).
   * LockTimeoutError if another holder keeps it longer than `wait`.
   *
   * @example
   * await req.session.withLock(async ({ session }) => {
   *   const cart = session.get<Cart>('cart')
   *   session.set('orders', [...(session.get<Order[]>('orders') ?? []), checkout(cart)])
   *   session.delete('cart')
   * })
   */
  async withLock<T>(fn: (lock: SessionLock) => Promise<T>, options: WithLockOptions = {}): Promise<T> {
    this.#assertUsable()
    if (!this.#persisted) await this.#write(this.#rt.now(), true)
    else if (this[needsCommit]()) await this[commitSession]()
    const lockable = {
      id: this.#record.id,
      fenceWith: (fence: number | undefined) => {
        this.#fence = fence
      },
      reload: () => this.#reload(),
      commit: () => this[commitSession](),
      discard: () => {
        this.#clearPending()
        this.#values.clear()
        this.#watched.clear()
      },
    }
    return runLocked(this.#rt.locks, this.#rt.events, () => this.#rt.now(), lockable, this as Session, fn, lockOptions(options))
  }

  /** Ask for the last-access time to be written on commit even inside `touchInterval`. */
  touch(): this {
    this.#touchRequested = true
    return this
  }

  /**
   * Fixation defence: a fresh id; the old id stops working at once. Keeps attributes and
   * principal by default (`{ keep: false }` starts empty). Callback or promise.
   */
  regenerate(options?: RegenerateOptions): Promise<void>
  regenerate(callback: Callback): void
  regenerate(options: RegenerateOptions, callback: Callback): void
  regenerate(options?: RegenerateOptions | Callback, callback?: Callback): Promise<void> | void {
    const opts = typeof options === 'function' ? {} : (options ?? {})
    const cb = typeof options === 'function' ? options : callback
    return withCallback(this.#regenerate(opts.keep ?? true), cb)
  }

  /** Removes the session from the store now; the response clears the cookie. Callback or promise. */
  destroy(): Promise<void>
  destroy(callback: Callback): void
  destroy(callback?: Callback): Promise<void> | void {
    return withCallback(this.#destroy(), callback)
  }

  /** Writes pending changes now instead of at the end of the request. Callback or promise. */
  save(): Promise<void>
  save(callback: Callback): void
  save(callback?: Callback): Promise<void> | void {
    return withCallback(this[commitSession](), callback)
  }

  /** Drops pending changes and re-reads the session from the store. Callback or promise. */
  reload(): Promise<void>
  reload(callback: Callback): void
  reload(callback?: Callback): Promise<void> | void {
    return withCallback(this.#reload(), callback)
  }

  /**
   * @internal False when a commit now would certainly write nothing: no change, no object
   * handed out that may have been mutated, no touch due. Lets adapters skip the async commit.
   */
  [needsCommit](): boolean {
    if (this.#destroyed) return false
    if (this.#changes.size > 0 || this.#principalChanged || this.#watched.size > 0) return true
    if (!this.#persisted) return false
    return this.#touchRequested || this.#rt.now() - this.#record.lastAccessedAt >= this.#rt.touchIntervalMs
  }

  /** @internal Writes what changed: nothing, a touch, a create or one delta. */
  async [commitSession](): Promise<void> {
    if (this.#destroyed) return
    this.#collectMutations()
    const rt = this.#rt
    const now = rt.now()
    const hasChanges = this.#changes.size > 0 || this.#principalChanged
    const r = this.#record
    if (this.#principalChanged && r.principal !== null && rt.principalSave) {
      await rt.principalSave(r.id, r.principal, now, () => this.#write(now, hasChanges))
      return
    }
    await this.#write(now, hasChanges)
  }

  /** One atomic operation on the store, now; the new value decoded. */
  async #atomic(name: string, change: AtomicChange): Promise<unknown> {
    checkName(name)
    this.#assertUsable()
    const rt = this.#rt
    if (!this.#persisted) {
      // Nobody else can see a session before it is stored: compute here and create it.
      const value: unknown = JSON.parse(applyAtomic(name, this.#currentJson(name), change, rt.maxSize))
      this.set(name, value)
      await this.#write(rt.now(), true)
      return value
    }
    // Sealed results are sealed under the binding: it must exist, and be stored with them.
    this.#sealBinding()
    const delta = this.#deltaOf(this.#withPendingBinding(new Map<string, AttributeChange>([[name, change]])))
    delta.maxValueBytes = rt.maxSize
    let stored: string
    try {
      // Sealed values cannot be computed on by the store: the core computes, then compare-and-set.
      const result = rt.codec.plain
        ? await rt.store.apply(this.#record.id, delta, this.#conditions())
        : await applyByCompareAndSet(rt.store, this.#record.id, delta, this.#conditions(), this.#sealing())
      stored = result.values?.get(name) as string
      this.#adoptVersion(result)
    } catch (e) {
      this.#noteGone(e)
      throw e
    }
    this.#stored(name, stored, delta)
    return rt.codec.decode(name, stored, this.#binding(false)).value
  }

  /** Stored values to JSON text and back, through the codec (encryption at rest). */
  #sealing(): ValueTranslation {
    const codec = this.#rt.codec
    return {
      open: (name, stored) => codec.decode(name, stored, this.#binding(false)).json,
      seal: (name, json) => codec.encode(name, JSON.parse(json), this.#sealBinding()).stored,
    }
  }

  /** The attribute's JSON as this request sees it (undefined: absent). */
  #currentJson(name: string): string | undefined {
    if (this.#values.has(name)) return this.#rt.codec.json(name, this.#values.get(name))
    const stored = this.#record.attributes.get(name)
    return stored === undefined ? undefined : this.#rt.codec.decode(name, stored, this.#binding(false)).json
  }

  #deltaOf(attributes: Map<string, AttributeChange>): SessionDelta {
    const now = this.#rt.now()
    return { attributes, lastAccessedAt: now, expiresAt: expiryOf({ ...this.#record, lastAccessedAt: now }), maxSessionBytes: this.#rt.maxSize }
  }

  #conditions(): ApplyConditions | undefined {
    return this.#fence === undefined ? undefined : { fence: this.#fence }
  }

  /**
   * The version this request read stays its version unless the store's new one shows that
   * nothing else was saved in between: a later setIfVersion must not pass over unseen writes.
   */
  #adoptVersion(result: ApplyResult): void {
    if (result.version === this.#record.version + 1) this.#record.version = result.version
  }

  /** An attribute the store just wrote: the local view follows, and a pending change to it is superseded. */
  #stored(name: string, stored: string, delta: SessionDelta): void {
    const r = this.#record
    r.attributes.set(name, stored)
    r.lastAccessedAt = delta.lastAccessedAt
    r.expiresAt = delta.expiresAt
    this.#values.delete(name)
    this.#watched.delete(name)
    this.#changes.delete(name)
    this.#knownSize = null
    this.#cached?.invalidate(r.id)
    this.#rt.events.emit('updated', { id: r.id, principal: r.principal, at: delta.lastAccessedAt, keys: [name] })
  }

  /** After a write: the near cache gets this copy, or drops its own (see CachedSave#written). */
  #recache(exact: boolean, now: number): void {
    this.#cached?.written(this.#record, exact, this.#fence !== undefined, now)
  }

  #noteGone(e: unknown): void {
    // Destroyed elsewhere (logout everywhere) while this request ran: stay dead.
    if (e instanceof SessionNotFoundError) this.#destroyed = true
  }

  async #write(now: number, hasChanges: boolean): Promise<void> {
    const rt = this.#rt
    const r = this.#record
    if (!this.#persisted) {
      if (!hasChanges) return
      r.lastAccessedAt = now
      r.expiresAt = expiryOf(r)
      await rt.store.create({ ...r, attributes: new Map(r.attributes) })
      this.#persisted = true
      this.#clearPending()
      this.#recache(true, now)
      rt.events.emit('created', { id: r.id, principal: r.principal, at: now })
      return
    }
    if (hasChanges) {
      const delta: SessionDelta = {
        attributes: this.#changes,
        lastAccessedAt: now,
        expiresAt: expiryOf({ ...r, lastAccessedAt: now }),
        // Re-checked by the store against what it holds (stores with `limitsSize`): concurrent
        // requests each under maxSize on their own view cannot together pass it.
        maxSessionBytes: rt.maxSize,
      }
      if (this.#principalChanged) delta.principal = r.principal
      const based = r.version
      try {
        this.#adoptVersion(this.#cached ? await this.#cached.apply(rt.store, r.id, based, delta, this.#conditions()) : await rt.store.apply(r.id, delta, this.#conditions()))
      } catch (e) {
        this.#noteGone(e)
        throw e
      }
      r.lastAccessedAt = delta.lastAccessedAt
      r.expiresAt = delta.expiresAt
      // Every save passes here: the names are listed only when someone listens.
      const keys = rt.events.listenerCount('updated') > 0 ? [...this.#changes.keys()] : null
      this.#clearPending()
      this.#recache(r.version === based + 1, now)
      if (keys) rt.events.emit('updated', { id: r.id, principal: r.principal, at: now, keys })
      return
    }
    if (this.#touchRequested || now - r.lastAccessedAt >= rt.touchIntervalMs) {
      const expiresAt = expiryOf({ ...r, lastAccessedAt: now })
      if (await rt.store.touch(r.id, now, expiresAt)) {
        r.lastAccessedAt = now
        r.expiresAt = expiresAt
        // Else a cached copy would look due for a touch on every request until it is reloaded.
        this.#recache(true, now)
      }
      this.#touchRequested = false
    }
  }

  /** @internal The id changes without the caller asking: periodic renewal. */
  async [renewSession](): Promise<void> {
    await this.#regenerate(true)
  }

  async #regenerate(keep: boolean): Promise<void> {
    this.#assertUsable()
    const rt = this.#rt
    const oldId = this.#record.id
    const newId = rt.newId()
    const now = rt.now()
    const principal = this.#record.principal
    if (keep) {
      if (this.#persisted && !(await rt.store.changeId(oldId, newId, now))) this.#persisted = false
      this.#record.id = newId
      this.#record.idIssuedAt = now
      if (!this.#persisted) {
        // Nothing stored yet (or it vanished): everything we hold is pending for the new id.
        for (const [name, stored] of this.#record.attributes) this.#changes.set(name, { op: 'set', value: stored })
        if (principal !== null) this.#principalChanged = true
      }
    } else {
      const wasPersisted = this.#persisted && (await rt.store.destroy(oldId))
      this.#record = blankRecord(rt, newId, now)
      this.#persisted = false
      this.#values.clear()
      this.#watched.clear()
      this.#clearPending()
      this.#knownSize = null
      if (wasPersisted) rt.events.emit('destroyed', { id: oldId, principal, at: now, reason: 'regenerate' })
    }
    this.#idChangedFrom ??= oldId
    rt.events.emit('id-changed', { id: newId, previousId: oldId, principal: this.#record.principal, at: now })
  }

  async #destroy(): Promise<void> {
    if (this.#destroyed) return
    const rt = this.#rt
    const existed = this.#persisted && (await rt.store.destroy(this.#record.id))
    this.#destroyed = true
    this.#clearPending()
    if (existed) {
      rt.events.emit('destroyed', { id: this.#record.id, principal: this.#record.principal, at: rt.now(), reason: 'destroy' })
    }
  }

  async #reload(): Promise<void> {
    this.#assertUsable()
    const loaded = this.#persisted ? await this.#rt.store.load(this.#record.id, this.#rt.now()) : null
    if (this.#persisted && !loaded) throw new SessionNotFoundError(this.#record.id)
    if (loaded) this.#record = loaded
    this.#values.clear()
    this.#watched.clear()
    this.#clearPending()
    this.#knownSize = null
  }

  /** Accounts for `name` taking `stored` (undefined: removed); refuses to pass maxSize. */
  #resize(name: string, stored: string | undefined): void {
    const previous = this.#record.attributes.get(name)
    const size =
      (this.#knownSize ?? sizeOf(this.#record.attributes)) -
      (previous === undefined ? 0 : entrySize(name, previous)) +
      (stored === undefined ? 0 : entrySize(name, stored))
    if (stored !== undefined && size > this.#rt.maxSize) throw new SessionTooLargeError(size, this.#rt.maxSize)
    this.#knownSize = size
  }

  /** Object values handed out may have been changed in place (`req.session.cart.push(x)`). */
  #collectMutations(): void {
    for (const [name, json] of this.#watched) {
      const value = this.#values.get(name)
      const { stored, json: now } = this.#rt.codec.encode(name, value, this.#sealBinding())
      if (now === json) continue
      this.#resize(name, stored)
      this.#record.attributes.set(name, stored)
      this.#changes.set(name, { op: 'set', value: stored })
      this.#watched.set(name, now)
    }
  }

  #clearPending(): void {
    this.#changes = new Map()
    this.#principalChanged = false
  }

  #assertUsable(): void {
    if (this.#destroyed) throw new SessionDestroyedError()
  }
}

export function blankRecord(rt: SessionRuntime, id: string, now: number): StoredSession {
  const record: StoredSession = {
    id,
    attributes: new Map(),
    createdAt: now,
    lastAccessedAt: now,
    idIssuedAt: now,
    idleTimeoutMs: rt.idleTimeoutMs,
    absoluteTimeoutMs: rt.absoluteTimeoutMs,
    expiresAt: 0,
    principal: null,
    version: 1,
    fence: 0,
  }
  record.expiresAt = expiryOf(record)
  // With encryption on, from creation: made later, two concurrent requests could each make one.
  if (!rt.codec.plain) record.attributes.set(BINDING_ATTRIBUTE, JSON.stringify(randomBytes(16).toString('base64url')))
  return record
}

function lockOptions(options: WithLockOptions): { ttlMs?: number; waitMs?: number } {
  const out: { ttlMs?: number; waitMs?: number } = {}
  if (options.ttl !== undefined) out.ttlMs = toMs(options.ttl, 'ttl')
  if (options.wait !== undefined) out.waitMs = options.wait === 0 ? 0 : toMs(options.wait, 'wait')
  return out
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw new InvalidAttributeError('attribute names must be non-empty strings of at most 256 characters')
  }
  if (name === BINDING_ATTRIBUTE) throw new InvalidAttributeError('this attribute name is reserved by sessionmesh')
}

function entrySize(name: string, stored: string): number {
  return Buffer.byteLength(name) + Buffer.byteLength(stored)
}

function sizeOf(attributes: Map<string, string>): number {
  let n = 0
  for (const [name, stored] of attributes) n += entrySize(name, stored)
  return n
}

/** express-session style: with a callback the outcome goes to it (never a rejection); else a promise. */
function withCallback(p: Promise<void>, cb?: Callback): Promise<void> | void {
  if (!cb) return p
  p.then(
    () => cb(),
    (e: unknown) => cb(e),
  )
}
