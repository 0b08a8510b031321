import type { SessionCookie } from '../core/cookies.js'
import type { SessionTokens } from '../core/tokens.js'
import { HashRing, type NodeSpec } from './hash-ring.js'

/** What affinity needs of the session manager: how the cookie is named and read, and how tokens verify. `createSessions()`' result fits. */
export interface AffinitySessions {
  readonly cookie: SessionCookie | null
  readonly tokens: SessionTokens
}

export interface SessionAffinityOptions {
  /** The instances to route to, by name (weighted optional); every gateway must use the same list. */
  instances: Iterable<NodeSpec>
  /** The session manager (for its cookie name and token verification). */
  sessions: AffinitySessions
  /** Ring options; the defaults match `HashRing`'s. */
  vnodes?: number
  seed?: number
}

/** Picks the instance that should serve a request's session. */
export interface SessionAffinity {
  /** The ring of instances (add, remove or reweigh instances on it directly). */
  readonly ring: HashRing
  /**
   * The instance for the session in a `Cookie` header, or null when there is no session
   * cookie or its token does not verify (the caller then balances as it likes).
   */
  pick(cookieHeader: string | undefined): string | null
  /** The same for a token taken from elsewhere (an `Authorization: Bearer` header, say). */
  pickToken(token: string | undefined): string | null
}

/**
 * Session affinity for a gateway or load balancer written in Node: the same session always
 * goes to the same instance (its caches stay warm, its in-process locks see every request),
 * and adding or removing an instance re-routes only about 1/n of the sessions. The token is
 * verified with the manager's own reader, so a forged cookie routes nowhere in particular.
 *
 * @example
 * const affinity = sessionAffinity({ instances: ['app-1:3000', 'app-2:3000', 'app-3:3000'], sessions })
 * const target = affinity.pick(req.headers.cookie) ?? roundRobin.next()
 */
export function sessionAffinity(options: SessionAffinityOptions): SessionAffinity {
  const ring = new HashRing({ nodes: options.instances, vnodes: options.vnodes, seed: options.seed })
  const { cookie, tokens } = options.sessions
  const pickToken = (token: string | undefined): string | null => {
    if (!token || ring.size === 0) return null
    const verified = tokens.read(token)
    return verified ? ring.owner(verified.id) : null
  }
  return {
    ring,
    pick(cookieHeader) {
      if (!cookie || !cookieHeader) return null
      // The common case, found in place: the first value of each name the manager reads, in
      // its order (`__Host-sid` before `sid` where the prefix is in use).
      for (const name of cookie.hostName === null ? [cookie.name] : [cookie.hostName, cookie.name]) {
        const raw = cookieValue(cookieHeader, name)
        const owner = raw === undefined || needsParser(raw) ? null : pickToken(raw)
        if (owner !== null) return owner
      }
      // Several cookies of the name, or quoted or percent-encoded values (never ours, but
      // legal): as the manager reads them, the first that verifies.
      for (const { token } of cookie.candidates(cookieHeader)) {
        const owner = pickToken(token)
        if (owner !== null) return owner
      }
      return null
    },
    pickToken,
  }
}

/**
 * The first value of cookie `name` in a Cookie header, found in place: one substring for the
 * value, none of the per-request object `cookie.parse` builds for every cookie in the header.
 */
export function cookieValue(header: string, name: string): string | undefined {
  let from = 0
  for (;;) {
    const at = header.indexOf(name, from)
    if (at === -1) return undefined
    const eq = at + name.length
    if (precededBySeparator(header, at) && header.charCodeAt(skipSpaces(header, eq)) === 61 /* = */) {
      const start = skipSpaces(header, skipSpaces(header, eq) + 1)
      let end = header.indexOf(';', start)
      if (end === -1) end = header.length
      while (end > start && isSpace(header.charCodeAt(end - 1))) end--
      return header.slice(start, end)
    }
    from = at + 1
  }
}

function precededBySeparator(header: string, at: number): boolean {
  let i = at - 1
  while (i >= 0 && isSpace(header.charCodeAt(i))) i--
  return i < 0 || header.charCodeAt(i) === 59 /* ; */
}

function skipSpaces(header: string, i: number): number {
  while (i < header.length && isSpace(header.charCodeAt(i))) i++
  return i
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9
}

function needsParser(value: string): boolean {
  return value.includes('%') || value.includes('"')
}
