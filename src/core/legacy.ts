import { parse, serialize } from 'cookie'

/** An old framework's session, read for adoption (see `migrateFrom`). */
export interface LegacySession {
  /** The old store's id, handed back to `remove` once the new session is stored. */
  id: string
  /** Attribute values as plain JSON-compatible data. Framework bookkeeping (e.g. express-session's `cookie`) left out. */
  attributes: Record<string, unknown>
  principal?: string | null
}

/**
 * Where old sessions come from: e.g. `connectRedisSessions(...)` from `sessionmesh/interop`
 * for express-session + connect-redis. A source verifies the old cookie itself.
 */
export interface LegacySessionSource {
  /** The old cookie's name, e.g. `connect.sid`. */
  readonly cookieName: string
  /** The old cookie's path, for clearing it. Default `/`. */
  readonly cookiePath?: string
  /** The old session for a raw cookie value; null if the value does not verify or nothing is stored. */
  load(cookieValue: string): Promise<LegacySession | null>
  /** Removes the old session once it has been adopted. */
  remove(id: string): Promise<void>
}

/** Old cookies may be signed and URL-encoded (`s%3A...`); anything longer than this is not a session cookie. */
const MAX_LEGACY_VALUE = 512

/** The named cookie's decoded value, or undefined. Never throws. */
export function legacyCookie(header: string | undefined, name: string): string | undefined {
  if (!header || !header.includes(name)) return undefined
  try {
    const value = parse(header)[name]
    return value !== undefined && value.length <= MAX_LEGACY_VALUE ? value : undefined
  } catch {
    return undefined
  }
}

/** A Set-Cookie value that drops the old cookie. */
export function clearLegacyCookie(source: LegacySessionSource, secure: boolean): string {
  return serialize(source.cookieName, '', { path: source.cookiePath ?? '/', expires: new Date(0), maxAge: 0, httpOnly: true, secure, sameSite: 'lax' })
}
