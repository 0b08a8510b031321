/**
 * Test plumbing shared by the adapter suite: starting/stopping real servers and a tiny
 * fetch client with a one-cookie jar (the session cookie is all these tests care about).
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A running app: its base URL and how to stop it. */
export interface AppHandle {
  url: string
  close(): Promise<void>
}

/** Listens on an ephemeral port of 127.0.0.1 and resolves once the server is listening. */
export function listen(server: Server): Promise<AppHandle> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve({ url: urlOf(server.address() as AddressInfo), close: () => closeServer(server) })
    })
  })
}

export const urlOf = (address: AddressInfo) => `http://127.0.0.1:${address.port}`

/** Stops accepting, drops the client's idle keep-alive sockets, resolves when closed. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()))
    server.closeAllConnections()
  })
}

export interface Reply {
  status: number
  headers: Headers
  /** Every Set-Cookie line. */
  setCookies: string[]
  /** The session cookie line, if the response set one. */
  sessionCookie: string | undefined
  text: string
  /** The body parsed as JSON (empty when it is not a JSON object). */
  body: ReplyBody
}

/** The fields the suite's routes and the failure answers use. */
export interface ReplyBody {
  value?: unknown
  has?: boolean
  id?: string
  /** The framework's own `sessionID` (req.sessionID, ctx.sessionID, request.sessionID). */
  sessionID?: string
  principal?: string | null
  n?: number
  list?: unknown[]
  code?: string
  error?: string
}

export interface RequestOptions {
  method?: string
  headers?: Record<string, string>
  /** The whole Cookie header; `null` sends none. Default: the jar's session cookie. */
  cookie?: string | null
  redirect?: 'manual' | 'follow'
}

/**
 * A fetch client that remembers the session cookie like a browser would: a Set-Cookie
 * replaces it, a clearing one (Max-Age=0) removes it.
 */
export class Client {
  /** The jar: `sid=<token>` or undefined. */
  cookie: string | undefined

  constructor(
    readonly base: string,
    readonly cookieName = 'sid',
  ) {}

  /** The token in the jar. */
  get token(): string | undefined {
    return this.cookie?.slice(this.cookieName.length + 1)
  }

  get(path: string, options: RequestOptions = {}): Promise<Reply> {
    return this.request(path, { method: 'GET', ...options })
  }

  post(path: string, options: RequestOptions = {}): Promise<Reply> {
    return this.request(path, { method: 'POST', ...options })
  }

  async request(path: string, options: RequestOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers }
    const cookie = options.cookie === undefined ? this.cookie : options.cookie
    if (cookie !== undefined && cookie !== null) headers.cookie = cookie
    const res = await fetch(new URL(path, this.base), {
      method: options.method ?? 'GET',
      headers,
      redirect: options.redirect ?? 'manual',
    })
    const text = await res.text()
    const setCookies = res.headers.getSetCookie()
    const sessionCookie = setCookies.find((c) => c.startsWith(`${this.cookieName}=`))
    if (sessionCookie) {
      const pair = sessionCookie.split(';')[0] as string
      this.cookie = isClearing(sessionCookie) ? undefined : pair
    }
    let body: ReplyBody = {}
    try {
      const parsed: unknown = JSON.parse(text)
      if (typeof parsed === 'object' && parsed !== null) body = parsed
    } catch {
      // not JSON
    }
    return { status: res.status, headers: res.headers, setCookies, sessionCookie, text, body }
  }
}

/** A Set-Cookie line that tells the browser to drop the cookie. */
export function isClearing(setCookie: string): boolean {
  return /;\s*max-age=0(;|$)/i.test(setCookie) || /;\s*expires=thu, 01 jan 1970/i.test(setCookie)
}

/** The attributes of a Set-Cookie line, lower-cased names: `{ path: '/', httponly: '' }`. */
export function cookieAttributes(setCookie: string): Record<string, string> {
  const out = Object.create(null) as Record<string, string>
  for (const part of setCookie.split(';').slice(1)) {
    const [name, ...rest] = part.trim().split('=')
    out[(name as string).toLowerCase()] = rest.join('=')
  }
  return out
}

/** Runs `task(i)` for i in [0, count) with at most `limit` in flight. */
export async function pool(count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < count) await task(next++)
  }
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker))
}
