/**
 * The routes every adapter test app implements, identically, in its framework's own idiom:
 *
 *   GET  /get?k=NAME          200 {value, has, id, principal}; value null when absent.
 *                             Read property style (express, koa, node) or with get() (fastify, hono).
 *   POST /set?k=NAME&v=JSON   stores the value (property style / set() as above); 200 {id}
 *   POST /incr                property style everywhere: n = (n ?? 0) + 1; 200 {n}
 *   POST /push?x=JSON         pushes onto the stored array `list` in place (no set call; set
 *                             only when absent); 200 {list}
 *   POST /login?user=U        await regenerate(); principal = 'user:U'; user = U; 200 {id}
 *   POST /logout              await destroy(); 200 {ok: true}
 *   POST /cb?user=U           the same as /login with callbacks: regenerate(cb), user = U, save(cb)
 *   GET  /redirect?k=K&v=JSON stores k = v, then 302 to /get?k=K
 *   POST /big?n=BYTES         set('big', 'x' * n): throws SessionTooLargeError past maxSize; the
 *                             framework / adapter answers
 *   GET  /none                200 'ok' without touching the session
 */
import type { Session } from '../../src/index.js'

/** The query string of a request URL (path + query). */
export function query(url: string | undefined): URLSearchParams {
  return new URL(url ?? '/', 'http://localhost').searchParams
}

/** `name` from the query, or '' */
export function param(url: string | undefined, name: string): string {
  return query(url).get(name) ?? ''
}

/** The query parameter `name` parsed as JSON. */
export function jsonParam(url: string | undefined, name: string): unknown {
  return JSON.parse(param(url, name))
}

/** The /get answer. */
export function getReply(session: Session, k: string, value: unknown) {
  return { value: value === undefined ? null : value, has: session.has(k), id: session.id, principal: session.principal }
}

/** A callback's error as an Error (for promise rejections). */
export const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)))

/** Where /redirect sends the client. */
export const redirectTarget = (k: string) => `/get?k=${encodeURIComponent(k)}`
