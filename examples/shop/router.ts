/**
 * Which instance of a service gets a request. Round-robin by default: every request may land
 * on a different process, which is the point of shared sessions. With affinity,
 * `sessionAffinity` (a consistent-hash ring keyed by the verified session id) sends one
 * session to one instance (good for caches), and only the sessions of an instance that
 * leaves move elsewhere.
 */
import type { IncomingMessage } from 'node:http'
import { type HashRing, type SessionAffinity, sessionAffinity, type Sessions } from '../../src/index.js'
import type { ServiceName } from './catalog.js'

export interface Upstream {
  /** e.g. `cart-2`. */
  id: string
  url: string
}
export type Upstreams = Record<ServiceName, Upstream[]>

export class Router {
  readonly affinity: boolean
  readonly #upstreams: Upstreams
  readonly #next = new Map<string, number>()
  readonly #rings = new Map<string, SessionAffinity>()

  constructor(upstreams: Upstreams, sessions: Sessions, affinity: boolean) {
    this.#upstreams = upstreams
    this.affinity = affinity
    // Built in both modes: the dashboard shows where affinity would put each session.
    for (const [service, list] of Object.entries(upstreams)) this.#rings.set(service, sessionAffinity({ instances: list.map((u) => u.id), sessions }))
  }

  /** The instance for this request, or undefined for an unknown service. */
  pick(service: string, req: IncomingMessage): Upstream | undefined {
    const list = Object.hasOwn(this.#upstreams, service) ? this.#upstreams[service as ServiceName] : undefined
    if (!list || list.length === 0) return undefined
    if (this.affinity) {
      // null without a valid session cookie (before login, or a forged one): balance those.
      const owner = this.#rings.get(service)?.pick(req.headers.cookie)
      const found = owner ? list.find((u) => u.id === owner) : undefined
      if (found) return found
    }
    const i = this.#next.get(service) ?? 0
    this.#next.set(service, (i + 1) % list.length)
    return list[i % list.length]
  }

  ring(service: string): HashRing | undefined {
    return this.#rings.get(service)?.ring
  }
}
