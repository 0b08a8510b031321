import type { AttributeCodec } from './codec.js'
import { toMs, type Duration } from './duration.js'
import {
  InvalidAttributeError,
  SessionDestroyedError,
  SessionNotFoundError,
  SessionTooLargeError,
  TooManySessionsError,
  VersionConflictError,
} from './errors.js'
import type { SessionEvents } from './events.js'
import { type HeldLock, runLocked, type SessionLockProvider } from './lock.js'
import type { NearCache } from './near-cache.js'
import { applyAtomic } from './ops.js'
import type { ApplyConditions, ApplyResult, AtomicChange, AttributeChange, SessionDelta, SessionStore, StoredSession } from './store.js'
import { expiryOf } from './store.js'

/** What a Session needs from its manager. */
export interface SessionRuntime {
  store: SessionStore
  codec: AttributeCodec
  events: SessionEvents
  idleTimeoutMs: number
  absoluteTimeoutMs: number
  touchIntervalMs: number
  maxSize: number
  /** `maxSessionsPerPrincipal`: how many live sessions one principal may have, and what a new one over it does. */
  principalLimit: { max: number; policy: 'evict-oldest' | 'refuse' } | null
  locks: SessionLockProvider
  /** The near cache, which this session refreshes after its own writes (null: off). */
  cache: NearCache | null
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
/** A session served from the near cache: the values as cached, and which of them the request read. */
type CachedView = { attributes: ReadonlyMap<string, string>; principal: string | null; read: Set<string> }
/** Where a loaded session came from, for the near cache: its position before the read, and the cached values on a hit. */
export type CacheOrigin = { mark: number; cached?: ReadonlyMap<string, string> }
const MAX_NAME_LENGTH = 256

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

  /** Served from the near cache: the stored values as read, to prove a save overwrites nothing newer. */
  #cachedAs: CachedView | null
  /** The near cache's position before this session was read; undefined: it may not refill the cache. */
  #mark: number | undefined

  constructor(rt: SessionRuntime, record: StoredSession, persisted: boolean, origin?: CacheOrigin) {
    this.#rt = rt
    this.#record = record
    this.#persisted = persisted
    this.#cachedAs = origin?.cached ? { attributes: origin.cached, principal: record.principal, read: new Set() } : null
    // A new session's id is known to nobody else: nothing announced about it can be newer.
    this.#mark = persisted ? origin?.mark : rt.cache?.mark()
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
    this.#cachedAs?.read.add(name)
    const stored = this.#record.attributes.get(name)
    if (stored === undefined) return undefined
    const { value, json, stale } = this.#rt.codec.decode(name, stored)
    this.#values.set(name, value)
    if (typeof value === 'object' && value !== null) this.#watched.set(name, json)
    // Sealed with an older key (or before encryption was on): reseal on the next save.
    if (stale) this.#changes.set(name, { op: 'set', value: this.#rt.codec.encode(name, value).stored })
    return value as T
  }

  has(name: string): boolean {
    if (!this.#values.has(name)) this.#cachedAs?.read.add(name)
    return this.#record.attributes.has(name)
  }

  keys(): string[] {
    return [...this.#record.attributes.keys()]
  }

  /**
   * Records a new value (undefined deletes). Throws InvalidAttributeError for values JSON
   * cannot hold and SessionTooLargeError past `maxSize`; nothing is recorded then.
   */
  set(name: string, value: unknown): this {
    checkName(name)
    this.#assertUsable()
    if (value === undefined) return this.delete(name)
    const { stored, json } = this.#rt.codec.encode(name, value)
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
    for (const name of this.#record.attributes.keys()) out[name] = this.get(name)
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
    const { json } = this.#rt.codec.encode(name, value)
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
      if (value !== undefined) pairs.push([field, this.#rt.codec.encode(name, value).json])
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
    const { stored } = this.#rt.codec.encode(name, value)
    const delta = this.#deltaOf(new Map([[name, { op: 'set', value: stored }]]))
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
    else if (this.needsCommit()) await this.commit()
    return runLocked(this.#rt.locks, this.#rt.events, () => this.#rt.now(), this as Session, fn, lockOptions(options))
  }

  /** @internal Saves from now on carry this fence (undefined: none). */
  fenceWith(fence: number | undefined): void {
    this.#fence = fence
  }

  /** @internal Forgets unsaved changes (a locked callback failed). */
  discard(): void {
    this.#clearPending()
    this.#values.clear()
    this.#watched.clear()
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
    return withCallback(this.commit(), callback)
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
  needsCommit(): boolean {
    if (this.#destroyed) return false
    if (this.#changes.size > 0 || this.#principalChanged || this.#watched.size > 0) return true
    if (!this.#persisted) return false
    return this.#touchRequested || this.#rt.now() - this.#record.lastAccessedAt >= this.#rt.touchIntervalMs
  }

  /** @internal Writes what changed: nothing, a touch, a create or one delta. */
  async commit(): Promise<void> {
    if (this.#destroyed) return
    this.#collectMutations()
    const rt = this.#rt
    const now = rt.now()
    const hasChanges = this.#changes.size > 0 || this.#principalChanged
    const r = this.#record
    const limited = this.#principalChanged && r.principal !== null ? rt.principalLimit : null
    if (limited?.policy === 'refuse') await this.#refuseOverLimit(r.principal as string, limited.max, now)
    if (limited?.policy === 'evict-oldest') {
      await this.#write(now, hasChanges)
      await this.#evictOverLimit(r.principal as string, limited.max, now)
      return
    }
    await this.#write(now, hasChanges)
  }

  /**
   * A save of a session read from the near cache: applied only at the version read. If the
   * store moved on, it is still applied when every attribute it writes that the request read
   * (and the principal) is as the cache had it, since then it overwrites nothing it did not
   * see; otherwise VersionConflictError, because the request decided on data that was stale.
   */
  async #applyOverCache(delta: SessionDelta): Promise<ApplyResult> {
    const rt = this.#rt
    const cachedAs = this.#cachedAs as CachedView
    let expected = this.#record.version
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await rt.store.apply(this.#record.id, delta, { ...this.#conditions(), expectedVersion: expected })
        this.#cachedAs = null
        return result
      } catch (e) {
        if (!(e instanceof VersionConflictError) || attempt >= 10) throw e
        const fresh = await rt.store.load(this.#record.id, delta.lastAccessedAt)
        if (!fresh) throw new SessionNotFoundError(this.#record.id)
        // Only a write that depends on what the request read from the stale copy is refused: a
        // blind set (a "last seen" time) overwrites nothing the request decided on.
        const stale =
          [...delta.attributes.keys()].some((name) => cachedAs.read.has(name) && fresh.attributes.get(name) !== cachedAs.attributes.get(name)) ||
          (delta.principal !== undefined && fresh.principal !== cachedAs.principal)
        if (stale) throw e
        expected = fresh.version
      }
    }
  }

  /** One atomic operation on the store, now; the new value decoded. */
  async #atomic(name: string, change: AtomicChange): Promise<unknown> {
    checkName(name)
    this.#assertUsable()
    const rt = this.#rt
    if (!this.#persisted) {
      // Nobody else can see a session before it is stored: compute here and create it.
      const { value } = rt.codec.decode(name, applyAtomic(name, this.#currentJson(name), change, rt.maxSize))
      this.set(name, value)
      await this.#write(rt.now(), true)
      return value
    }
    const delta = this.#deltaOf(new Map([[name, change]]))
    delta.maxValueBytes = rt.maxSize
    let stored: string
    try {
      if (rt.codec.plain) {
        const result = await rt.store.apply(this.#record.id, delta, this.#conditions())
        stored = result.values?.get(name) as string
        this.#adoptVersion(result)
      } else {
        stored = await this.#sealedAtomic(name, change, delta)
      }
    } catch (e) {
      this.#noteGone(e)
      throw e
    }
    this.#stored(name, stored, delta)
    return rt.codec.decode(name, stored).value
  }

  /**
   * Encrypted values cannot be computed on by the store: read, compute, and save only if the
   * session is still at the version read (compare-and-set), retrying after a concurrent save.
   */
  async #sealedAtomic(name: string, change: AtomicChange, delta: SessionDelta): Promise<string> {
    const rt = this.#rt
    for (let attempt = 0; ; attempt++) {
      const current = await rt.store.load(this.#record.id, delta.lastAccessedAt)
      if (!current) throw new SessionNotFoundError(this.#record.id)
      const before = current.attributes.get(name)
      const json = applyAtomic(name, before === undefined ? undefined : rt.codec.decode(name, before).json, change, rt.maxSize)
      const { stored } = rt.codec.encode(name, JSON.parse(json))
      const plain = { ...delta, attributes: new Map<string, AttributeChange>([[name, { op: 'set', value: stored }]]) }
      try {
        const result = await rt.store.apply(this.#record.id, plain, { ...this.#conditions(), expectedVersion: current.version })
        if (result.version === this.#record.version + 1) this.#record.version = result.version
        return stored
      } catch (e) {
        if (!(e instanceof VersionConflictError) || attempt >= 100) throw e
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)))
      }
    }
  }

  /** The attribute's JSON as this request sees it (undefined: absent). */
  #currentJson(name: string): string | undefined {
    if (this.#values.has(name)) return this.#rt.codec.encode(name, this.#values.get(name)).json
    const stored = this.#record.attributes.get(name)
    return stored === undefined ? undefined : this.#rt.codec.decode(name, stored).json
  }

  #deltaOf(attributes: Map<string, AttributeChange>): SessionDelta {
    const now = this.#rt.now()
    return { attributes, lastAccessedAt: now, expiresAt: expiryOf({ ...this.#record, lastAccessedAt: now }) }
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
    this.#rt.cache?.invalidate(r.id)
    this.#rt.events.emit('updated', { id: r.id, principal: r.principal, at: delta.lastAccessedAt, keys: [name] })
  }

  /**
   * After a write: when the store now holds exactly this request's view (the save was the
   * only change since the version read), the near cache gets it, so the next request needs
   * no load; otherwise the cache's copy is dropped.
   */
  #recache(exact: boolean, now: number): void {
    const cache = this.#rt.cache
    if (!cache) return
    const r = this.#record
    // Under a lock the store's fence moved on; such sessions are read afresh anyway.
    if (exact && this.#mark !== undefined && this.#fence === undefined) cache.fill(r, this.#mark, now)
    else cache.invalidate(r.id)
  }

  #noteGone(e: unknown): void {
    // Destroyed elsewhere (logout everywhere) while this request ran: stay dead.
    if (e instanceof SessionNotFoundError) this.#destroyed = true
  }

  async #refuseOverLimit(principal: string, max: number, now: number): Promise<void> {
    const others = (await this.#rt.store.findByPrincipal(principal, now)).filter((id) => id !== this.#record.id)
    if (others.length >= max) throw new TooManySessionsError(max)
  }

  /** The principal's oldest sessions (by creation) beyond `max`, this one never among them, are destroyed. */
  async #evictOverLimit(principal: string, max: number, now: number): Promise<void> {
    const rt = this.#rt
    const ids = await rt.store.findByPrincipal(principal, now)
    if (ids.length <= max) return
    const others = await Promise.all(ids.filter((id) => id !== this.#record.id).map((id) => rt.store.load(id, now)))
    const oldest = others.filter((s): s is StoredSession => s !== null).sort((a, b) => a.createdAt - b.createdAt)
    for (const s of oldest.slice(0, ids.length - max)) {
      if (await rt.store.destroy(s.id)) rt.events.emit('destroyed', { id: s.id, principal, at: now, reason: 'evicted' })
    }
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
      }
      if (this.#principalChanged) delta.principal = r.principal
      const based = r.version
      try {
        this.#adoptVersion(this.#cachedAs ? await this.#applyOverCache(delta) : await rt.store.apply(r.id, delta, this.#conditions()))
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
  async renew(): Promise<void> {
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
      this.#knownSize = 0
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
      const { stored, json: now } = this.#rt.codec.encode(name, value)
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
