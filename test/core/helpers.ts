import type { RequestInfo, RequestSession, Sessions, SessionStore } from '../../src/index.js'
import { wrapStore } from '../../src/index.js'

/** A RequestInfo as an adapter would build it, from a header record. */
export function request(headers: Record<string, string> = {}, encrypted = false): RequestInfo {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]))
  return { header: (name) => lower[name], encrypted }
}

/** The cookie pair (`sid=...`) from a Set-Cookie value. */
export function cookiePair(rs: RequestSession): string | undefined {
  const set = rs.responseHeaders().find(([name]) => name === 'set-cookie')
  return set?.[1].split(';')[0]
}

/** Runs one request: open, let `handler` work on the session, commit; returns the lifecycle. */
export async function run(
  sessions: Sessions,
  cookie: string | undefined,
  handler: (rs: RequestSession) => unknown = () => {},
): Promise<RequestSession> {
  const rs = await sessions.open(request(cookie ? { cookie } : {}))
  await handler(rs)
  await rs.commit()
  return rs
}

/** A mutable clock for timeout tests. */
export function clock(start = Date.now()) {
  let t = start
  return {
    now: () => t,
    advance(ms: number) {
      t += ms
    },
  }
}

/** Wraps a store and records every call by method name. */
export function recording(store: SessionStore) {
  const calls: Array<{ method: string; args: unknown[] }> = []
  const wrapped = wrapStore(store, (method, call, args) => {
    calls.push({ method, args: [...args] })
    return call()
  })
  return { store: wrapped, calls, count: (method: string) => calls.filter((c) => c.method === method).length }
}

export const SECRET = 'test-secret-0123456789-abcdefghijklmnop'
