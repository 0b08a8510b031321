import { type AttributeCodec, type EncryptionOptions, encryptedCodec, jsonCodec } from './codec.js'
import { type CsrfGuard, csrfGuard, type CsrfOptions, CsrfTokens } from './csrf.js'
import { type CookieOptions, type PresentedToken, SessionCookie } from './cookies.js'
import { type Duration, toMs } from './duration.js'
import { ConfigurationError, SessionMeshError, SessionNotFoundError, StoreUnavailableError } from './errors.js'
import { SessionEvents } from './events.js'
import { adoptLegacy } from './adopt.js'
import { type LegacySession, type LegacySessionSource, legacyCookie } from './legacy.js'
import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import { type BusLink, connectBus } from './bus-bridge.js'
import type { ChangeBus } from './bus.js'
import { type SessionLockStrategy, storeLocks } from './lock.js'
import { CachedSave } from './cached-save.js'
import { NearCache, type NearCacheStats } from './near-cache.js'
import { limitedPrincipalSave, principalLimit } from './principal-limit.js'
import { RequestSession, type RequestInfo } from './request.js'
import { blankRecord, Session, type SessionLock, type SessionRuntime, type WithLockOptions } from './session.js'
import type { LoadOptions, SessionStore, StoreWatch } from './store.js'
import { type CompleteStore, withFallbacks } from './fallbacks.js'
import { wrapStore } from './operations.js'
import { type SessionTokens, signedTokens } from './tokens.js'
import { expiryOf } from './store.js'
import { memoryStore } from '../stores/memory/index.js'

export interface TokenHeaderOptions {
  /** Request header carrying the signed token. Default `authorization` (as `Bearer <token>`). */
  name?: string
  /** Response header that carries a new or changed token. Default: `name`, or `x-session-token` for authorization. */
  responseName?: string
}

export type StoreErrorPolicy = 'fail' | 'continue'

export interface SessionsOptions {
  /** Where sessions live. Default `memoryStore()` (one process only). */
  store?: SessionStore
  /**
   * HMAC keys for the cookie signature, each at least 32 bytes. The first signs, every one
   * verifies: put a new key first to rotate, drop the old one once its cookies have aged out.
   * Required unless `tokens` says otherwise.
   */
  secret?: string | Uint8Array | ReadonlyArray<string | Uint8Array>
  /**
   * How ids are made and carried. Default: signed tokens with `secret`. Interop formats
   * (e.g. `springSessionTokens()` for Spring Session's `SESSION` cookie) replace it.
   */
  tokens?: SessionTokens
  /**
   * Old sessions to adopt: a request without a valid sessionmesh token but with one of these
   * sources' cookies gets the old session's data in a new session (saved, with a new cookie;
   * the old cookie is cleared and the old record removed once the new one is stored).
   */
  migrateFrom?: LegacySessionSource | ReadonlyArray<LegacySessionSource>
  /** Expire after this long without a request. Default `30m`. */
  idleTimeout?: Duration
  /** Expire this long after creation whatever the activity (OWASP). Default `12h`. */
  absoluteTimeout?: Duration
  /** Give the session a fresh id once its id is this old (OWASP periodic renewal). Default off. */
  renewAfter?: Duration | false
  /**
   * Write the last-access time of an otherwise unchanged session at most this often, so
   * read-only traffic does not write on every request. Default 1 minute, or a quarter of
   * the idle timeout if that is shorter. A session may therefore idle-expire up to this much
   * earlier than `idleTimeout` after its last unwritten access.
   */
  touchInterval?: Duration
  /** Most bytes of attribute names and stored values per session. Default 64 KiB. */
  maxSize?: number
  /** Cookie settings, or `false` for header tokens only. */
  cookie?: CookieOptions | false
  /** Accept the signed token from a request header too (API clients). Default off. */
  header?: TokenHeaderOptions | boolean
  /**
   * Believe `X-Forwarded-Proto` for deciding Secure (and `__Host-`), and `X-Forwarded-Host`
   * as the request's host for the CSRF check. Only behind a proxy you control. Default false.
   */
  trustProxy?: boolean
  /**
   * AES-256-GCM encryption of attribute values at rest; the first key seals, all open. Each
   * value is bound to its attribute and its session (a value moved to another session does
   * not open there); plaintext values are refused unless `acceptPlaintext` (a migration switch).
   */
  encryption?: EncryptionOptions
  /**
   * Cross-site request forgery defence, on by default: an unsafe request (POST, PUT, PATCH,
   * DELETE...) that does not carry a header token is refused with CsrfError (403) when the
   * browser says it comes from another origin: `Sec-Fetch-Site` same-site or cross-site, or,
   * without it, an `Origin` whose host is not the request's Host (X-Forwarded-Host with
   * `trustProxy`) and not in `allowedOrigins`. Requests without either header (curl, server
   * to server) pass. `false` turns it off. Synchronizer tokens: `session.csrfToken()`.
   */
  csrf?: CsrfOptions | boolean
  /**
   * When the store cannot be reached: `fail` (default) answers 503 with a clear message;
   * `continue` runs the handler with an empty session that is not saved; a function decides per error.
   */
  onStoreError?: StoreErrorPolicy | ((error: StoreUnavailableError) => StoreErrorPolicy)
  /**
   * Most live sessions one principal may have. Past it, a session that takes the principal
   * (a login) evicts that user's oldest sessions (`evict-oldest`, the default policy), or is
   * refused with TooManySessionsError, 409 (`refuse`). Counted through the store's per-user
   * index; two logins at the same instant may both pass a `refuse` check.
   */
  maxSessionsPerPrincipal?: number | { max: number; policy?: 'evict-oldest' | 'refuse' }
  /**
   * Where session locks (`withLock`) keep their lease. Default: in the session store beside
   * the session. `quorumLocks({ masters })` from sessionmesh/redis: on several independent
   * Redis masters (Redlock-style), fenced by the session store either way.
   */
  locks?: SessionLockStrategy
  /**
   * A change bus (`redisStreamBus`, `natsBus` from sessionmesh/nats, `sqliteBus`): every
   * instance's session events then reach `sessions.events` here (remote ones carry `origin`),
   * and the near cache is kept coherent. `instanceId` names this instance (default: host, pid
   * and a random suffix).
   */
  bus?: ChangeBus | { bus: ChangeBus; instanceId?: string }
  /**
   * Keep recently used sessions in this process so read-only requests need no store call,
   * and a save refills the copy. Needs a change feed: the store's own (the Redis store
   * announces every write inside its script) or `bus`. Any change on any instance
   * invalidates the entry; while a feed is down the cache is emptied and bypassed. A
   * request served from the cache saves only if the
   * attributes it changes are unchanged in the store (else VersionConflictError, 409), so a
   * stale copy never overwrites newer data. Default off; `true` = `{ max: 10_000, ttl: '10s' }`.
   */
  nearCache?: boolean | { max?: number; ttl?: Duration }
  /** How often this instance sweeps expired sessions (and emits `expired`). Default `1m`; `false` never. */
  sweepInterval?: Duration | false
  /** The clock, for tests. Default `Date.now`. */
  now?: () => number
}

/** A session as seen outside a request (admin tools, "your devices" pages). */
export type SessionInfo = Session

/**
 * Creates the session manager: shared by every adapter, and the place for operations that
 * are not tied to one request (revoke, list, sweep).
 *
 * @example
 * const sessions = createSessions({
 *   store: sqliteStore({ path: 'sessions.db' }),
 *   secret: [process.env.SESSION_SECRET!],
 *   idleTimeout: '30m', absoluteTimeout: '12h',
 * })
 * app.use(session(sessions))
 */
export function createSessions(options: SessionsOptions): Sessions {
  return new Sessions(options)
}

export class Sessions {
  readonly events = new SessionEvents()
  /** The store, complete (the core's fallbacks fill what it leaves out) and guarded (infrastructure failures are StoreUnavailableError). */
  readonly store: CompleteStore
  /** @internal */ readonly cookie: SessionCookie | null
  /** @internal */ readonly header: { name: string; bearer: boolean; responseName: string } | null
  /** @internal */ readonly tokens: SessionTokens
  readonly #legacy: ReadonlyArray<LegacySessionSource>
  /** @internal */ readonly trustProxy: boolean
  /** @internal */ readonly renewAfterMs: number | null
  readonly #rt: SessionRuntime
  /** Every request's load asks for the coalesced touch; one object, not one per request. */
  readonly #loadOptions: LoadOptions
  readonly #onStoreError: NonNullable<SessionsOptions['onStoreError']>
  readonly #cache: NearCache | null
  readonly #link: BusLink | null
  readonly #watch: StoreWatch | null
  #sweeper: NodeJS.Timeout | null = null
  /** The sweep under way, which `close()` lets finish: its sessions are already gone from the store. */
  #sweeping: Promise<number> | null = null
  #closing = false
  readonly #csrf: CsrfGuard | null

  constructor(options: SessionsOptions) {
    if (options.tokens) {
      this.tokens = options.tokens
    } else {
      const secrets = secretsOf(options.secret)
      if (secrets.length === 0 || secrets.some((s) => !s || Buffer.byteLength(s) < 32)) {
        throw new ConfigurationError('secret: give one or more keys of at least 32 bytes (e.g. 32 random bytes, base64)')
      }
      this.tokens = signedTokens(secrets)
    }
    const legacy = options.migrateFrom
    this.#legacy = legacy === undefined ? [] : Array.isArray(legacy) ? legacy : [legacy as LegacySessionSource]
    this.store = guardStore(withFallbacks(options.store ?? memoryStore()))
    const idleTimeoutMs = toMs(options.idleTimeout ?? '30m', 'idleTimeout')
    const absoluteTimeoutMs = toMs(options.absoluteTimeout ?? '12h', 'absoluteTimeout')
    const touchIntervalMs =
      options.touchInterval === undefined ? Math.min(60_000, idleTimeoutMs / 4) : toMs(options.touchInterval, 'touchInterval')
    const codec: AttributeCodec = options.encryption
      ? encryptedCodec(options.encryption.keys, { acceptPlaintext: options.encryption.acceptPlaintext ?? false })
      : jsonCodec()
    this.#rt = {
      store: this.store,
      codec,
      events: this.events,
      idleTimeoutMs,
      absoluteTimeoutMs,
      touchIntervalMs,
      maxSize: options.maxSize ?? 64 * 1024,
      principalSave: null,
      locks: (options.locks ?? storeLocks)(this.store, options.now ?? Date.now),
      csrfTokens: options.tokens && !options.secret ? null : new CsrfTokens(secretsOf(options.secret)),
      newId: () => this.tokens.newId(),
      now: options.now ?? Date.now,
    }
    this.#loadOptions = { touchIntervalMs }
    // An interop token format shares its cookie with another framework, which reads the plain name.
    this.cookie =
      options.cookie === false
        ? null
        : new SessionCookie({ ...options.cookie, hostPrefix: options.cookie?.hostPrefix ?? (options.tokens ? false : 'auto') })
    const header = options.header === true ? {} : options.header || null
    if (header) {
      const name = (header.name ?? 'authorization').toLowerCase()
      const bearer = name === 'authorization'
      this.header = { name, bearer, responseName: (header.responseName ?? (bearer ? 'x-session-token' : name)).toLowerCase() }
    } else {
      this.header = null
    }
    if (!this.cookie && !this.header) throw new ConfigurationError('with cookie: false, enable header tokens (header: true)')
    this.trustProxy = options.trustProxy ?? false
    this.renewAfterMs = options.renewAfter ? toMs(options.renewAfter, 'renewAfter') : null
    this.#onStoreError = options.onStoreError ?? 'fail'
    this.#csrf = csrfGuard(options.csrf)
    ;[this.#cache, this.#link, this.#watch] = this.#connect(options)
    const limit = principalLimit(options.maxSessionsPerPrincipal)
    this.#rt.principalSave = limit ? limitedPrincipalSave(limit, this.store, this.events) : null
    const sweep = options.sweepInterval ?? '1m'
    if (sweep !== false) {
      this.#sweeper = setInterval(() => void this.sweep(), toMs(sweep, 'sweepInterval'))
      this.#sweeper.unref()
    }
  }

  #connect(options: SessionsOptions): [NearCache | null, BusLink | null, StoreWatch | null] {
    const cacheOption = options.nearCache === true ? {} : options.nearCache || null
    const watchable = this.store.watch !== undefined
    if (cacheOption && !options.bus && !watchable) {
      throw new ConfigurationError('nearCache needs a change feed to stay coherent across instances: a change bus (`bus`) or a store that announces its changes (the Redis store)')
    }
    const cache = cacheOption
      ? new NearCache(cacheOption.max ?? 10_000, cacheOption.ttl === undefined ? 10_000 : toMs(cacheOption.ttl, 'nearCache.ttl'))
      : null
    // The cache is used only while every feed it listens to is delivering.
    const up = { bus: !options.bus, store: !(cache && watchable) }
    const status = (feed: keyof typeof up, connected: boolean) => {
      up[feed] = connected
      cache?.setEnabled(up.bus && up.store)
    }
    if (cache) {
      // This instance's own saves refresh or drop the copy themselves (Session#recache); every
      // other change, local or remote (re-emitted by the link with its origin), drops it.
      const drop = (e: { id: string; previousId?: string }) => {
        cache.invalidate(e.id)
        if (e.previousId) cache.invalidate(e.previousId)
      }
      for (const kind of ['created', 'destroyed', 'expired', 'id-changed'] as const) this.events.on(kind, drop)
      this.events.on('updated', (e) => {
        if ('origin' in e) drop(e)
      })
      // Not enabled here: a cache always has a feed to wait for, and `status` enables it.
    }
    const watch =
      cache && this.store.watch
        ? this.store.watch({ changed: (id, version) => cache.invalidate(id, version), status: (c) => status('store', c) })
        : null
    if (!options.bus) return [cache, null, watch]
    const { bus, instanceId } = 'publish' in options.bus ? { bus: options.bus, instanceId: undefined } : options.bus
    const link = connectBus(this.events, bus, {
      instanceId: instanceId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
      onStatus: (s) => status('bus', s === 'connected'),
    })
    return [cache, link, watch]
  }

  /** Hits, misses and size of the near cache (null when it is off). */
  nearCacheStats(): NearCacheStats | null {
    return this.#cache?.stats() ?? null
  }

  /** @internal The clock. */
  now(): number {
    return this.#rt.now()
  }

  /**
   * Starts a request: finds the token (cookie or header), verifies it, loads the session.
   * Adapters call this; throws StoreUnavailableError only when the policy says `fail`.
   */
  async open(info: RequestInfo): Promise<RequestSession> {
    return this.begin(info)
  }

  /**
   * @internal `open`, but without a promise when the near cache holds a live copy of the
   * session: the handler of a cache hit then runs in the same tick. Anything else (a miss,
   * no session, the store) comes back as `open`'s promise.
   */
  begin(info: RequestInfo): RequestSession | Promise<RequestSession> {
    const credentials = this.#credentials(info)
    const { from, verified } = credentials
    // Header tokens are sent by code, never by a browser on its own: only the rest is checked.
    if (this.#csrf && from !== 'header') this.#csrf.check(info, this.trustProxy)
    const cache = this.#cache
    const now = this.#rt.now()
    if (!verified || !cache?.enabled) return this.#open(info, credentials, now, null)
    const mark = cache.mark()
    const cached = cache.get(verified.id, now)
    if (cached && expiryOf(cached) > now) {
      const copy = { ...cached, attributes: new Map(cached.attributes) }
      const session = new Session(this.#rt, copy, true, new CachedSave(cache, mark, { attributes: cached.attributes, principal: cached.principal }))
      return new RequestSession(this, session, info, from, verified.id, verified.rotated, false, null, credentials.cookieName)
    }
    return this.#open(info, credentials, now, mark)
  }

  /** `open` from the store; `mark` is the near cache's position before it missed (null: no cache). */
  async #open(info: RequestInfo, { from, verified, cookieName }: Credentials, now: number, mark: number | null): Promise<RequestSession> {
    let session: Session | null = null
    if (verified) {
      try {
        session = await this.#load(verified.id, now, mark)
      } catch (e) {
        if (!(e instanceof StoreUnavailableError) || this.storeErrorPolicy(e) === 'fail') throw e
        this.events.reportError(e)
        return new RequestSession(this, this.#blank(now), info, from, null, false, true)
      }
    }
    if (!session && this.#legacy.length > 0 && this.cookie) {
      const adopted = await this.#adoptLegacy(info, now)
      if (adopted) return adopted
    }
    return new RequestSession(
      this,
      session ?? this.#blank(now),
      info,
      from,
      session ? verified!.id : null,
      Boolean(session && verified!.rotated),
      false,
      null,
      session ? cookieName : undefined,
    )
  }

  /** The session from the store; with a `mark`, its copy fills the near cache. */
  async #load(id: string, now: number, mark: number | null): Promise<Session | null> {
    const record = await this.store.load(id, now, this.#loadOptions)
    if (record && mark !== null) this.#cache?.fill(record, mark, now)
    if (!record || expiryOf(record) <= now) return null
    return new Session(this.#rt, record, true, this.#cachedSave(mark ?? undefined))
  }

  /** A request carrying an old framework's cookie: its data in a new session, to be saved on commit. */
  async #adoptLegacy(info: RequestInfo, now: number): Promise<RequestSession | null> {
    for (const source of this.#legacy) {
      const value = legacyCookie(info.header('cookie'), source.cookieName)
      if (value === undefined) continue
      let old: LegacySession | null
      try {
        old = await source.load(value)
      } catch (e) {
        // The old store is down: answer as for our own store. "No session" here would let the
        // request's first write shadow the old cookie with a new session: logged out for good.
        if (e instanceof StoreUnavailableError) {
          if (this.storeErrorPolicy(e) === 'fail') throw e
          this.events.reportError(e)
          return new RequestSession(this, this.#blank(now), info, null, null, false, true)
        }
        // An unreadable old session is "no session", as a bad cookie is; the error is reported.
        this.events.reportError(e as Error)
        continue
      }
      if (!old) continue
      // The same rules as `sessionmesh migrate` (src/core/adopt.ts): the session's own.
      const adopted = adoptLegacy(old, this.#blank(now))
      if ('refused' in adopted) {
        // Old data a session refuses (over maxSize, a bad name): "no session", not a 500 on
        // every request; reported. Nothing to adopt (`empty`) is not an error.
        if (adopted.error) this.events.reportError(adopted.error)
        continue
      }
      return new RequestSession(this, adopted.session, info, 'cookie', null, false, false, { source, legacyId: old.id })
    }
    return null
  }

  /**
   * Whether `token` (from a form field or a header) is `session`'s synchronizer token, made
   * by `session.csrfToken()`; timing-safe, never throws for any input.
   *
   * @example
   * app.post('/transfer', (req, res) => {
   *   if (!sessions.verifyCsrfToken(req.session, req.body._csrf)) return res.status(403).end()
   * })
   */
  verifyCsrfToken(session: Session, token: unknown): boolean {
    return session.verifyCsrfToken(token)
  }

  /** A session by id outside a request (null if absent or expired). Save changes with `save()`. */
  async get(id: string): Promise<Session | null> {
    if (!this.tokens.isId(id)) return null
    const now = this.#rt.now()
    const record = await this.store.load(id, now)
    return record && expiryOf(record) > now ? new Session(this.#rt, record, true, this.#cachedSave(undefined)) : null
  }

  /**
   * Runs `fn` holding the lock of session `id`: `lock.session` is read under the lock and
   * saved with its fence when `fn` returns. A holder that pauses past its lease cannot
   * overwrite the next holder's data (its save is refused: LockLostError). LockTimeoutError
   * when `wait` passes; SessionNotFoundError if there is no such session.
   *
   * @example
   * await sessions.withLock(id, async ({ session, signal }) => {
   *   const order = await placeOrder(session.get('cart'), { signal })
   *   session.set('lastOrder', order.id)
   *   session.delete('cart')
   * }, { ttl: '5s', wait: '2s' })
   */
  async withLock<T>(id: string, fn: (lock: SessionLock) => Promise<T>, options: WithLockOptions = {}): Promise<T> {
    const session = await this.get(id)
    if (!session) throw new SessionNotFoundError(id)
    return session.withLock(fn, options)
  }

  /** The live sessions of one user. */
  async findByPrincipal(principal: string): Promise<Session[]> {
    const ids = await this.store.findByPrincipal(principal, this.#rt.now())
    const found = await Promise.all(ids.map((id) => this.get(id)))
    return found.filter((s): s is Session => s !== null)
  }

  /** Destroys one session by id; true if it existed. */
  async destroy(id: string, reason: 'destroy' | 'revoked' = 'destroy'): Promise<boolean> {
    const session = await this.get(id)
    if (!(await this.store.destroy(id))) return false
    this.events.emit('destroyed', { id, principal: session?.principal ?? null, at: this.#rt.now(), reason })
    return true
  }

  /** "Log out everywhere": destroys every session of `principal`; returns how many. */
  async revokePrincipal(principal: string): Promise<number> {
    const ids = await this.store.findByPrincipal(principal, this.#rt.now())
    let n = 0
    for (const id of ids) {
      if (await this.store.destroy(id)) {
        n++
        this.events.emit('destroyed', { id, principal, at: this.#rt.now(), reason: 'revoked' })
      }
    }
    return n
  }

  /** Removes expired sessions now and emits `expired` for each (the timer does this every `sweepInterval`). */
  async sweep(): Promise<number> {
    if (this.#sweeping || this.#closing) return 0
    this.#sweeping = this.#sweepAll()
    try {
      return await this.#sweeping
    } finally {
      this.#sweeping = null
    }
  }

  async #sweepAll(): Promise<number> {
    let total = 0
    try {
      while (!this.#closing) {
        const at = this.#rt.now()
        const batch = await this.store.sweep(at, 500)
        for (const e of batch) this.events.emit('expired', { id: e.id, principal: e.principal, at })
        total += batch.length
        if (batch.length < 500) break
      }
    } catch (e) {
      this.events.reportError(e as Error)
    }
    return total
  }

  /** Stops the sweeper, lets a sweep under way report what it removed, and closes the store. */
  async close(): Promise<void> {
    this.#closing = true
    if (this.#sweeper) clearInterval(this.#sweeper)
    this.#sweeper = null
    await this.#sweeping
    await this.#rt.locks.close?.()
    await this.#link?.close()
    await this.#watch?.close()
    await this.store.close()
  }

  /** @internal */
  newBlankSession(): Session {
    return this.#blank(this.#rt.now())
  }

  #blank(now: number): Session {
    // A new session's id is known to nobody else: nothing announced about it can be newer.
    return new Session(this.#rt, blankRecord(this.#rt, this.tokens.newId(), now), false, this.#cachedSave(this.#cache?.mark()))
  }

  /** The near cache's save protocol for a session read at `mark` (undefined: its copy may not refill the cache). */
  #cachedSave(mark: number | undefined): CachedSave | null {
    return this.#cache ? new CachedSave(this.#cache, mark, null) : null
  }

  /** @internal What `onStoreError` says to do about this failure. */
  storeErrorPolicy(error: StoreUnavailableError): StoreErrorPolicy {
    const p = this.#onStoreError
    return typeof p === 'function' ? p(error) : p
  }

  /** The header token if it verifies, else the cookie's; `from` says where a token was presented. */
  #credentials(info: RequestInfo): Credentials {
    // On every request's path: no arrays or tuples, just the two places a token can be.
    let from: 'cookie' | 'header' | null = null
    if (this.header) {
      const raw = info.header(this.header.name)?.trim()
      const token = raw && this.header.bearer ? /^Bearer ([^\s]{1,200})$/i.exec(raw)?.[1] : raw
      if (token) {
        from = 'header'
        const verified = this.tokens.read(token)
        if (verified) return { from, verified }
      }
    }
    if (this.cookie) {
      // The first cookie of our names that verifies: a garbage or forged one never hides a good one.
      const presented = this.cookie.candidates(info.header('cookie'))
      for (let i = 0; i < presented.length; i++) {
        from ??= 'cookie'
        const { token, name } = presented[i] as PresentedToken
        const verified = this.tokens.read(token)
        if (verified) return { from: 'cookie', verified, cookieName: name }
      }
    }
    return { from, verified: null }
  }
}

/** `secret` as a list (validated by the caller). */
function secretsOf(secret: SessionsOptions['secret']): Array<string | Uint8Array> {
  return (Array.isArray(secret) ? secret : [secret]) as Array<string | Uint8Array>
}

/** Where a request presented a token (null: nowhere), and the id it verified to. */
interface Credentials {
  from: 'cookie' | 'header' | null
  verified: { id: string; rotated: boolean } | null
  /** The cookie name the verified token came under (the plain one or `__Host-`). */
  cookieName?: string
}

/**
 * Stores throw whatever their client throws; callers see StoreUnavailableError for
 * infrastructure failures and our own typed errors unchanged.
 */
function guardStore(store: CompleteStore): CompleteStore {
  // `.then(undefined, fail)` rather than an async wrapper: this sits on every request's path.
  return wrapStore(store, (operation, call) => {
    const fail = (e: unknown): never => {
      if (e instanceof SessionMeshError) throw e
      throw new StoreUnavailableError(`session store (${store.kind}) failed in ${operation}: ${(e as Error)?.message ?? String(e)}`, { cause: e })
    }
    try {
      return call().then(undefined, fail)
    } catch (e) {
      return Promise.resolve().then(() => fail(e))
    }
  })
}
