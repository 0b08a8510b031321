import { SessionNotFoundError, StoreUnavailableError } from './errors.js'
import { commitSession, needsCommit, renewSession } from './internal.js'
import { clearLegacyCookie, type LegacySessionSource } from './legacy.js'
import type { Sessions } from './manager.js'
import type { Session } from './session.js'
import { type SessionView, sessionView } from './view.js'

/** What an adapter tells the core about a request. */
export interface RequestInfo {
  /** A request header by lower-case name. */
  header(name: string): string | undefined
  /** The connection itself is TLS. */
  encrypted: boolean
  /**
   * The request method (`POST`...), for the CSRF check (`csrf`), which also reads the
   * `host`, `origin`, `sec-fetch-site` and (with `trustProxy`) `x-forwarded-host` headers.
   * Every adapter fills it; a RequestInfo without it (a program opening a session itself)
   * is not checked.
   */
  method?: string
}

/**
 * One request's session lifecycle: opened before the handler, committed before the
 * response is sent, then the headers to add (Set-Cookie or a token header).
 */
export class RequestSession {
  readonly session: Session
  #view: SessionView | undefined
  #committed = false
  #detached: boolean
  /** responseHeaders() has run: a handler that streams gets its headers before the commit. */
  #headersOut = false
  /** The adopted old session was removed (or dropped by the handler): clear its cookie too. */
  #legacySettled = false

  constructor(
    private readonly sessions: Sessions,
    session: Session,
    private readonly info: RequestInfo,
    private readonly from: 'cookie' | 'header' | null,
    private readonly presentedId: string | null,
    private readonly rotated: boolean,
    detached: boolean,
    /** Set when this new session adopts an old framework's session (see `migrateFrom`). */
    private readonly migration: { source: LegacySessionSource; legacyId: string } | null = null,
    /** The cookie name the session's token came under, when it came from a cookie. */
    private readonly presentedCookie: string | undefined = undefined,
  ) {
    this.session = session
    this.#detached = detached
  }

  /** The store was down and `onStoreError` said continue: nothing is saved, no cookie is set. */
  get detached(): boolean {
    return this.#detached
  }

  /** The session with express-session style property access (`view.user = u`). */
  get view(): SessionView {
    this.#view ??= sessionView(this.session)
    return this.#view
  }

  /** Whether the request arrived over HTTPS (directly, or per X-Forwarded-Proto with trustProxy). */
  get secure(): boolean {
    if (this.info.encrypted) return true
    if (!this.sessions.trustProxy) return false
    const proto = this.info.header('x-forwarded-proto')
    return proto?.split(',')[0]?.trim().toLowerCase() === 'https'
  }

  /**
   * True (and the request counts as committed) when there is nothing to save: the common
   * read-only request then ends synchronously, without a promise round on the hot path.
   */
  commitIfIdle(): boolean {
    if (this.#committed || this.#detached) return true
    // An adoption must always reach commit(), even when the handler destroyed the new session.
    if (this.session[needsCommit]() || this.#renewalDue() || this.migration) return false
    this.#committed = true
    return true
  }

  #renewalDue(): boolean {
    const s = this.session
    const renewAfter = this.sessions.renewAfterMs
    return renewAfter !== null && !s.isNew && !s.destroyed && s.previousId === null && this.sessions.now() - s.idIssuedAt >= renewAfter
  }

  /** Saves what the request changed (once; later calls do nothing). Renews the id when it is due. */
  async commit(): Promise<void> {
    if (this.#committed || this.#detached) return
    this.#committed = true
    const s = this.session
    try {
      if (this.#renewalDue()) await s[renewSession]()
      await s[commitSession]()
      // Only now that the new session is stored (or the handler dropped it: destroy, logout)
      // does the old one go: a failed save loses nothing, and a logout is not undone by the
      // old cookie. Not when the headers already went out without the new cookie (streaming).
      if (this.migration && !this.#headersOut) {
        await this.migration.source.remove(this.migration.legacyId).catch((e: unknown) => this.sessions.events.reportError(e as Error))
        this.#legacySettled = true
      }
    } catch (e) {
      // Destroyed elsewhere meanwhile (revoked): the session stays dead and the cookie is cleared.
      if (e instanceof SessionNotFoundError) return
      if (e instanceof StoreUnavailableError && this.sessions.storeErrorPolicy(e) === 'continue') {
        this.sessions.events.reportError(e)
        this.#detached = true
        return
      }
      throw e
    }
  }

  /** The session's token came under the plain name on a request that writes `__Host-` (plain `sid` over HTTPS). */
  #movingToHostPrefix(): boolean {
    const presented = this.presentedCookie
    const cookie = this.sessions.cookie
    return this.from === 'cookie' && cookie?.hostName != null && presented === cookie.name && cookie.nameFor(this.secure) === cookie.hostName
  }

  /** Headers the response must carry, as [name, value] pairs. */
  responseHeaders(): Array<[string, string]> {
    this.#headersOut = true
    if (this.#detached) return []
    const set = this.#tokenHeaders()
    const legacy = this.migration?.source
    // Not when our own cookie has the old one's name: the new value already replaces it.
    if (legacy && this.#legacySettled && !(set.length > 0 && this.sessions.cookie?.nameFor(this.secure) === legacy.cookieName)) {
      set.push(['set-cookie', clearLegacyCookie(legacy, this.secure)])
    }
    return set
  }

  #tokenHeaders(): Array<[string, string]> {
    const s = this.session
    const cookie = this.sessions.cookie
    if (s.destroyed) {
      if (this.from !== 'cookie' || !cookie) return []
      const clear: Array<[string, string]> = [['set-cookie', cookie.clear(this.secure)]]
      const presented = this.presentedCookie
      if (presented && presented !== cookie.nameFor(this.secure)) clear.push(['set-cookie', cookie.clear(this.secure, presented)])
      return clear
    }
    // A token that verified under the plain name over HTTPS moves to `__Host-` now, not at the next id change.
    const moving = this.#movingToHostPrefix()
    if (s.isNew || (s.id === this.presentedId && !this.rotated && !moving)) return []
    const token = this.sessions.tokens.issue(s.id)
    const header = this.sessions.header
    if (header && (this.from === 'header' || !cookie)) return [[header.responseName, token]]
    if (!cookie) return []
    if (moving) {
      return [
        ['set-cookie', cookie.write(token, this.secure, s.absoluteExpiresAt, this.sessions.now())],
        ['set-cookie', cookie.clear(this.secure, this.presentedCookie)],
      ]
    }
    return [['set-cookie', cookie.write(token, this.secure, s.absoluteExpiresAt, this.sessions.now())]]
  }
}
