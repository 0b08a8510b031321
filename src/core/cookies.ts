import { parse, serialize } from 'cookie'
import { ConfigurationError } from './errors.js'

export interface CookieOptions {
  /** Default `sid`. */
  name?: string
  /** Default `/`. */
  path?: string
  domain?: string
  /** Default `lax`. `none` requires Secure, so it forces it. */
  sameSite?: 'lax' | 'strict' | 'none'
  /** `auto` (default): Secure when the request came over HTTPS (see `trustProxy`). */
  secure?: boolean | 'auto'
  /** Default true. */
  httpOnly?: boolean
  /**
   * The `__Host-` prefix, the defence against cookie tossing: a browser accepts a `__Host-`
   * cookie only with Secure, Path=/ and no Domain, so a sibling subdomain (or a plain-HTTP
   * page) cannot plant one that shadows ours.
   *
   * - `auto` (default with the built-in signed tokens): every cookie written Secure is
   *   written as `__Host-<name>`; plain-HTTP development keeps `<name>`. Reading takes
   *   `__Host-<name>` first and still accepts `<name>`, so nobody is logged out on the move
   *   to HTTPS (a request that verified with `<name>` over HTTPS gets `__Host-<name>` and the
   *   old cookie is cleared). Not possible, so off, with a `domain` or a `path` other than `/`.
   * - `true`: always `__Host-<name>`, read and written; forces Secure, Path=/ and no Domain.
   *   Once every client has moved (one `absoluteTimeout` after deploying `auto`), this also
   *   stops accepting the plain name, which a sibling subdomain could still plant.
   * - `false`: never (default when `tokens` is an interop format: the other side reads the
   *   plain name).
   */
  hostPrefix?: boolean | 'auto'
  /** Give the cookie a Max-Age equal to the session's remaining absolute lifetime. Default false (a browser-session cookie). */
  persistent?: boolean
}

/** A token presented in a Cookie header, and the cookie name it came under. */
export interface PresentedToken {
  token: string
  name: string
}

/** Tokens are 76 characters; anything much longer is garbage and is not even parsed. */
const MAX_COOKIE_VALUE = 200
/** Most cookies of our names one request may present: each costs an HMAC to verify. */
const MAX_CANDIDATES = 8
const NONE: readonly PresentedToken[] = Object.freeze([])

/** Reads and writes the session cookie. */
export class SessionCookie {
  /** The configured name (`__Host-<name>` with `hostPrefix: true`). */
  readonly name: string
  /** The prefixed name written when the cookie is Secure (`hostPrefix: 'auto'`), else null. */
  readonly hostName: string | null
  readonly #opts: Required<Omit<CookieOptions, 'domain' | 'name' | 'hostPrefix'>> & { domain: string | undefined }

  constructor(options: CookieOptions = {}) {
    const mode = options.hostPrefix ?? 'auto'
    const hostPrefix = mode === true
    const base = options.name ?? 'sid'
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(base)) throw new ConfigurationError(`cookie.name "${base}" is not a valid cookie name`)
    if (hostPrefix && options.domain) throw new ConfigurationError('cookie.hostPrefix cannot be combined with cookie.domain')
    this.name = hostPrefix ? `__Host-${base}` : base
    // A Domain or a narrower Path is exactly what `__Host-` forbids: `auto` then stays off.
    const prefixable = !options.domain && (options.path ?? '/') === '/' && !base.startsWith('__Host-')
    this.hostName = mode === 'auto' && prefixable ? `__Host-${base}` : null
    const sameSite = options.sameSite ?? 'lax'
    this.#opts = {
      path: hostPrefix ? '/' : (options.path ?? '/'),
      domain: options.domain,
      sameSite,
      secure: hostPrefix || sameSite === 'none' ? true : (options.secure ?? 'auto'),
      httpOnly: options.httpOnly ?? true,
      persistent: options.persistent ?? false,
    }
  }

  /** The first value of `name` in a Cookie header, or undefined. Never throws. */
  read(header: string | undefined): string | undefined {
    if (!header || !header.includes(this.name)) return undefined
    let value: string | undefined
    try {
      value = parse(header)[this.name]
    } catch {
      return undefined
    }
    return value !== undefined && value.length <= MAX_COOKIE_VALUE ? value : undefined
  }

  /**
   * Every value of our names in a Cookie header, in the order to try them: `__Host-` ones
   * first, then the plain name, each in header order. A header may carry one name several
   * times (a planted cookie beside the real one); the caller takes the first that verifies,
   * so a garbage cookie never hides a good one. Never throws.
   */
  candidates(header: string | undefined): readonly PresentedToken[] {
    const host = this.hostName
    if (!header || !(header.includes(this.name) || (host !== null && header.includes(host)))) return NONE
    const prefixed: PresentedToken[] = []
    const plain: PresentedToken[] = []
    // `cookie.parse` keeps one value per name; a Cookie header is cookie-pairs joined by ';'
    // (RFC 6265 §4.2.1, no pair may contain one), so each pair goes through the parser alone.
    for (const pair of header.split(';')) {
      if (prefixed.length + plain.length >= MAX_CANDIDATES) break
      // On every request's path: only a pair that names us is parsed (the parser decodes
      // values, never names, and the prefixed name contains the plain one).
      if (!pair.includes(this.name)) continue
      let parsed: Record<string, string | undefined>
      try {
        parsed = parse(pair)
      } catch {
        continue
      }
      for (const name of host === null ? [this.name] : [host, this.name]) {
        const value = parsed[name]
        if (value === undefined || value.length === 0 || value.length > MAX_COOKIE_VALUE) continue
        ;(name === host ? prefixed : plain).push({ token: value, name })
      }
    }
    return prefixed.length === 0 ? plain : prefixed.concat(plain)
  }

  /** The name a cookie written on this request carries. */
  nameFor(requestIsSecure: boolean): string {
    return this.hostName !== null && this.#secure(requestIsSecure) ? this.hostName : this.name
  }

  /** A Set-Cookie value carrying `token`; `maxAgeMs` when the cookie should persist. */
  write(token: string, requestIsSecure: boolean, expiresAt: number, now: number): string {
    const name = this.nameFor(requestIsSecure)
    return serialize(name, token, {
      ...this.#attributes(name, requestIsSecure),
      ...(this.#opts.persistent ? { maxAge: Math.max(0, Math.floor((expiresAt - now) / 1000)) } : {}),
    })
  }

  /** A Set-Cookie value that makes the browser drop cookie `name` (default: the one this request would write). */
  clear(requestIsSecure: boolean, name = this.nameFor(requestIsSecure)): string {
    return serialize(name, '', { ...this.#attributes(name, requestIsSecure), expires: new Date(0), maxAge: 0 })
  }

  #secure(requestIsSecure: boolean): boolean {
    const s = this.#opts.secure
    return s === 'auto' ? requestIsSecure : s
  }

  #attributes(name: string, requestIsSecure: boolean) {
    const o = this.#opts
    // A `__Host-` cookie is accepted (and dropped) by a browser only with these attributes.
    const host = name !== this.name || name.startsWith('__Host-')
    return {
      path: host ? '/' : o.path,
      ...(o.domain && !host ? { domain: o.domain } : {}),
      sameSite: o.sameSite,
      secure: host || this.#secure(requestIsSecure),
      httpOnly: o.httpOnly,
    }
  }
}
