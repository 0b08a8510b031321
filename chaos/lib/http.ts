/**
 * A small HTTP client over node:http with its own keep-alive agent (so the runner can close
 * every socket it opened, which matters for the soak's open-handle count), a per-request
 * timeout, and a cookie jar of one session cookie.
 */
import { Agent, request } from 'node:http'

export interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
  /** The body parsed as JSON, or {} when it is not a JSON object. */
  body: Record<string, unknown>
  /** When the answer was complete (Date.now()). */
  at: number
  /** How long the request took, ms. */
  ms: number
}

/** A failed request (connection refused or reset, timeout): status 0. */
export const NO_ANSWER = 0

export interface SendOptions {
  method?: string
  headers?: Record<string, string>
  body?: string | Buffer
  timeoutMs?: number
}

export class HttpClient {
  readonly agent: Agent
  constructor(
    readonly base: string,
    maxSockets = 64,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets })
  }

  send(path: string, options: SendOptions = {}): Promise<Answer> {
    const started = Date.now()
    const url = new URL(path, this.base)
    return new Promise((resolve) => {
      const finish = (status: number, headers: Answer['headers'], text: string) => {
        let body: Record<string, unknown> = {}
        try {
          const parsed: unknown = JSON.parse(text)
          if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed as Record<string, unknown>
        } catch {
          // not JSON
        }
        const at = Date.now()
        resolve({ status, headers, text, body, at, ms: at - started })
      }
      const headers: Record<string, string | number> = { ...options.headers }
      if (options.body !== undefined) headers['content-length'] = Buffer.byteLength(options.body)
      let req: ReturnType<typeof request>
      try {
        req = request(url, { method: options.method ?? 'GET', headers, agent: this.agent, timeout: options.timeoutMs ?? 15_000 })
      } catch (e) {
        finish(NO_ANSWER, {}, `client refused the request: ${(e as Error).message}`)
        return
      }
      req.on('timeout', () => req.destroy(new Error(`timeout after ${options.timeoutMs ?? 15_000} ms`)))
      req.on('error', (e) => finish(NO_ANSWER, {}, e.message))
      req.on('response', (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('error', (e) => finish(NO_ANSWER, {}, e.message))
        res.on('end', () => finish(res.statusCode ?? NO_ANSWER, res.headers, Buffer.concat(chunks).toString('utf8')))
      })
      req.end(options.body)
    })
  }

  /** Closes every socket of this client. */
  close(): void {
    this.agent.destroy()
  }
}

/** A browser-like user: one HttpClient connection pool shared, one session cookie of its own. */
export class User {
  cookie: string | undefined
  constructor(
    readonly http: HttpClient,
    readonly cookieName = 'sid',
  ) {}

  async send(path: string, options: SendOptions = {}): Promise<Answer> {
    const headers = { ...options.headers }
    if (this.cookie) headers.cookie = this.cookie
    const a = await this.http.send(path, { ...options, headers })
    const set = a.headers['set-cookie']
    for (const line of set ?? []) {
      if (!line.startsWith(`${this.cookieName}=`)) continue
      this.cookie = /;\s*max-age=0(;|$)/i.test(line) ? undefined : line.split(';')[0]
    }
    return a
  }
  get(path: string, options: SendOptions = {}): Promise<Answer> {
    return this.send(path, { ...options, method: 'GET' })
  }
  post(path: string, options: SendOptions = {}): Promise<Answer> {
    return this.send(path, { ...options, method: 'POST' })
  }
}
