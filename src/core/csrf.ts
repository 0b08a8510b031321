import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'
import { ConfigurationError, CsrfError } from './errors.js'
import type { RequestInfo } from './request.js'

export interface CsrfOptions {
  /**
   * Origins besides the request's own (`https://app.example.com`, scheme, host and any port,
   * exactly as a browser sends them in `Origin`) whose unsafe requests are accepted: a
   * front-end on another host, a payment provider's return page.
   */
  allowedOrigins?: readonly string[]
}

/** Methods that must not change state (RFC 9110 §9.2.1): never checked. */
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])
const FETCH_SITES = new Set(['same-site', 'cross-site'])

/**
 * The cross-origin check on unsafe requests, as browsers allow it to be done without a
 * token (the design of Go's net/http CrossOriginProtection, and of the Fetch Metadata
 * guidance): `Sec-Fetch-Site` when the browser sends it (same-origin and none pass), else
 * `Origin` against the request's own Host. A request with neither is not from a browser that
 * could be tricked into sending it, so it passes. Origins listed in `allowedOrigins` always pass.
 *
 * Only the host is compared with `Origin`, not the scheme: behind a TLS-terminating proxy
 * the app may not know it was HTTPS, and an http page of the very same host is no other site.
 */
export class CsrfGuard {
  readonly #allowed: ReadonlySet<string>

  constructor(options: CsrfOptions) {
    this.#allowed = new Set(
      (options.allowedOrigins ?? []).map((o) => {
        let url: URL
        try {
          url = new URL(o)
        } catch {
          throw new ConfigurationError(`csrf.allowedOrigins: "${o}" is not an origin (scheme://host[:port])`)
        }
        if (url.origin === 'null' || url.pathname !== '/' || url.search || url.hash || url.username) {
          throw new ConfigurationError(`csrf.allowedOrigins: "${o}" is not an origin (scheme://host[:port], nothing after)`)
        }
        return url.origin
      }),
    )
  }

  /** Throws CsrfError when an unsafe request comes from another origin. */
  check(info: RequestInfo, trustProxy: boolean): void {
    const method = info.method
    // An adapter that does not say the method cannot be checked (see RequestInfo.method).
    if (method === undefined || SAFE.has(method.toUpperCase())) return
    const origin = info.header('origin')?.trim().toLowerCase()
    if (origin !== undefined && this.#allowed.has(origin)) return
    const site = info.header('sec-fetch-site')?.trim().toLowerCase()
    if (site !== undefined) {
      if (site === 'same-origin' || site === 'none') return
      throw new CsrfError(`cross-origin ${method} refused (Sec-Fetch-Site: ${FETCH_SITES.has(site) ? site : 'unrecognised'})`)
    }
    if (origin === undefined) return
    if (origin === 'null' || hostOf(origin) !== ownHost(info, trustProxy)) {
      throw new CsrfError(`cross-origin ${method} refused (Origin does not match the request's host)`)
    }
  }
}

/** `csrf` option to a guard: on by default, `false` turns it off. */
export function csrfGuard(option: CsrfOptions | boolean | undefined): CsrfGuard | null {
  if (option === false) return null
  return new CsrfGuard(option === true || option === undefined ? {} : option)
}

function hostOf(origin: string): string | null {
  try {
    return new URL(origin).host
  } catch {
    return null
  }
}

/** The host the client addressed: Host, or the first X-Forwarded-Host behind a trusted proxy. */
function ownHost(info: RequestInfo, trustProxy: boolean): string | null {
  const forwarded = trustProxy ? info.header('x-forwarded-host')?.split(',')[0]?.trim() : undefined
  const host = forwarded || info.header('host')?.trim()
  if (!host) return null
  // Through URL, so ports and case are normalised as in the Origin (`Host: A:80` is `a`).
  return hostOf(`http://${host}`)
}

/**
 * Synchronizer tokens bound to a session: HMAC-SHA256 of the session's stable binding (kept
 * across regenerate and renewal) under a key derived from the cookie secrets. The first
 * secret issues, every one verifies, so rotating secrets rotates tokens the same way.
 */
export class CsrfTokens {
  readonly #keys: Buffer[]

  constructor(secrets: ReadonlyArray<string | Uint8Array>) {
    this.#keys = secrets.map((s) => Buffer.from(hkdfSync('sha256', Buffer.from(s), 'sessionmesh', 'csrf token', 32)))
  }

  issue(binding: string): string {
    return this.#mac(this.#keys[0] as Buffer, binding)
  }

  /** Timing-safe; false for anything that is not a token of this binding. */
  verify(binding: string, token: unknown): boolean {
    if (typeof token !== 'string' || token.length !== 43) return false
    const presented = Buffer.from(token)
    let ok = false
    for (const key of this.#keys) ok = timingSafeEqual(Buffer.from(this.#mac(key, binding)), presented) || ok
    return ok
  }

  #mac(key: Buffer, binding: string): string {
    return createHmac('sha256', key).update(binding).digest('base64url')
  }
}
