/**
 * Session ids and the `SESSION` cookie as Spring Session makes them, so a browser logged in
 * through a Spring Boot service is logged in here too, and the other way round.
 *
 * - Ids: Spring Session 3.x makes `UUID.randomUUID().toString()` (UuidSessionIdGenerator):
 *   36 characters, 122 random bits. `newId` does the same with `crypto.randomUUID()`.
 * - Cookie: DefaultCookieSerializer writes `Base64.getEncoder().encode(id.getBytes())`:
 *   standard base64 (`+`, `/`) with `=` padding (spring-projects/spring-session,
 *   spring-session-core/src/main/java/org/springframework/session/web/http/DefaultCookieSerializer.java,
 *   `base64Encode` / `base64Decode`; `useBase64Encoding` defaults to true, the cookie name to `SESSION`).
 *
 * These cookies are NOT signed: that is Spring Session's format, and the price of sharing it.
 * Whoever knows a session id can present it; the id's 122 random bits are what protects it.
 * Keep `regenerate()` on login (fixation), HttpOnly and Secure, and prefer `hostPrefix` when
 * both services share one host. Spring's `jvmRoute` suffix (`<id>.<route>`) is not supported.
 */
import { randomUUID } from 'node:crypto'
import type { SessionTokens } from '../../core/tokens.js'

/**
 * Ids accepted from a cookie: Spring's UUIDs, and ids from a custom SessionIdGenerator made
 * of letters, digits, `-` and `_`, 16 to 128 characters. The id becomes part of Redis key
 * names, so nothing else is let through.
 */
const ID = /^[A-Za-z0-9_-]{16,128}$/
/** Standard base64 with padding, as java.util.Base64's basic encoder writes it; 128 id bytes make 172 characters. */
const BASE64 = /^[A-Za-z0-9+/]{16,172}={0,2}$/

/** `SessionTokens` for Spring Session's `SESSION` cookie: `createSessions({ tokens: springSessionTokens(), cookie: { name: 'SESSION' } })`. */
export function springSessionTokens(): SessionTokens {
  return {
    newId: () => randomUUID(),
    isId: (id) => typeof id === 'string' && ID.test(id),
    issue: (id) => Buffer.from(id, 'utf8').toString('base64'),
    read(token) {
      if (typeof token !== 'string' || !BASE64.test(token) || token.length % 4 !== 0) return null
      const id = Buffer.from(token, 'base64').toString('latin1')
      // One spelling per id: what Spring (and `issue`) writes, nothing that merely decodes to it.
      if (!ID.test(id) || Buffer.from(id, 'latin1').toString('base64') !== token) return null
      return { id, rotated: false }
    },
  }
}
