/**
 * The dashboard's live feed: one server-sent-events stream from every service instance
 * (each instance only sees its own `sessions.events`), merged into one stream for browsers.
 * A change bus can later replace the per-instance streams without the dashboard noticing.
 */
import { get, type IncomingMessage, type ServerResponse } from 'node:http'
import { createInterface } from 'node:readline'
import type { Upstream } from './router.js'

/** Events a new dashboard gets at once, so it does not open on an empty feed. */
const BACKLOG = 100

export class EventFeed {
  readonly #clients = new Set<ServerResponse>()
  readonly #backlog: string[] = []
  readonly #upstreams: IncomingMessage[] = []
  #closed = false

  /** Follows one instance's feed, reconnecting while the instance restarts. */
  follow(upstream: Upstream): void {
    if (this.#closed) return
    const retry = () => {
      if (!this.#closed) setTimeout(() => this.follow(upstream), 500).unref()
    }
    const req = get(`${upstream.url}/internal/events`, (res) => {
      this.#upstreams.push(res)
      const lines = createInterface({ input: res })
      lines.on('line', (line) => {
        if (line.startsWith('data: ')) this.#publish(line.slice(6))
      })
      // An instance that dies mid-stream resets the connection: that is a reconnect, not a crash.
      lines.on('error', () => res.destroy())
      res.on('error', () => res.destroy())
      res.once('close', () => {
        this.#upstreams.splice(this.#upstreams.indexOf(res), 1)
        retry()
      })
    })
    req.once('error', retry)
  }

  /** Streams the backlog and then every new event to a browser. */
  subscribe(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-served-by': 'gateway' })
    for (const data of this.#backlog) res.write(`data: ${data}\n\n`)
    this.#clients.add(res)
    req.once('close', () => this.#clients.delete(res))
  }

  close(): void {
    this.#closed = true
    for (const res of this.#clients) res.end()
    for (const res of this.#upstreams) res.destroy()
  }

  #publish(data: string): void {
    this.#backlog.push(data)
    if (this.#backlog.length > BACKLOG) this.#backlog.shift()
    for (const res of this.#clients) res.write(`data: ${data}\n\n`)
  }
}
