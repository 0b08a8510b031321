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
   * Use the `__Host-` prefix: the browser then only accepts the cookie with Secure, Path=/
   * and no Domain, so a sibling subdomain cannot plant or overwrite it. Forces those settings.
   */
  hostPrefix?: boolean
  /** Give the cookie a Max-Age equal to the session's remaining absolute lifetime. Default false (a browser-session cookie). */
  persistent?: boolean
}

/** Tokens are 76 characters; anything much longer is garbage and is not even parsed. */
const MAX_COOKIE_VALUE = 200

/** Reads and writes the session cookie. */
export class SessionCookie {
  readonly name: string
  readonly #opts: Required<Omit<CookieOptions, 'domain' | 'name'>> & { domain: string | undefined }

  constructor(options: CookieOptions = {}) {
    const hostPrefix = options.hostPrefix ?? false
    const base = options.name ?? 'sid'
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(base)) throw new ConfigurationError(`cookie.name "${base}" is not a valid cookie name`)
    if (hostPrefix && options.domain) throw new ConfigurationError('cookie.hostPrefix cannot be combined with cookie.domain')
    this.name = hostPrefix ? `__Host-${base}` : base
    const sameSite = options.sameSite ?? 'lax'
    this.#opts = {
      path: hostPrefix ? '/' : (options.path ?? '/'),
      domain: options.domain,
      sameSite,
      secure: hostPrefix || sameSite === 'none' ? true : (options.secure ?? 'auto'),
      httpOnly: options.httpOnly ?? true,
      hostPrefix,
      persistent: options.persistent ?? false,
    }
  }

  /** The raw token from a Cookie header, or undefined. Never throws. */
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

  /** A Set-Cookie value carrying `token`; `maxAgeMs` when the cookie should persist. */
  write(token: string, requestIsSecure: boolean, expiresAt: number, now: number): string {
    return serialize(this.name, token, {
      ...this.#attributes(requestIsSecure),
      ...(this.#opts.persistent ? { maxAge: Math.max(0, Math.floor((expiresAt - now) / 1000)) } : {}),
    })
  }

  /** A Set-Cookie value that makes the browser drop the cookie. */
  clear(requestIsSecure: boolean): string {
    return serialize(this.name, '', { ...this.#attributes(requestIsSecure), expires: new Date(0), maxAge: 0 })
  }

  #attributes(requestIsSecure: boolean) {
    const o = this.#opts
    return {
      path: o.path,
      ...(o.domain ? { domain: o.domain } : {}),
      sameSite: o.sameSite,
      secure: o.secure === 'auto' ? requestIsSecure : o.secure,
      httpOnly: o.httpOnly,
    }
  }
}
