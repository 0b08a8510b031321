/**
 * The dashboard's numbers: live sessions from the store, each instance's recently served
 * sessions (from its /internal/stats), and how the affinity rings spread sessions and keyspace.
 */
import type { Router, Upstreams } from './router.js'
import { sessionRef, type ShopSessions, storeLabel } from './sessions.js'

export interface InstanceStats {
  id: string
  service: string
  up: boolean
  pid: number | null
  requests: number
  /** Live sessions this instance served a request for in the last few minutes. */
  sessions: number
  nearCacheHitRate: number | null
}

export interface DashboardStats {
  at: number
  routing: 'round-robin' | 'affinity'
  live: number
  /** Where sessions live, in words. */
  store: string
  /** Live sessions per store node (a sharded store has several). */
  storeNodes: Array<{ node: string; sessions: number }>
  instances: InstanceStats[]
  /** Per service: each instance's share of the ring's keyspace and of the live sessions. */
  rings: Record<string, Array<{ instance: string; keyspace: number; sessions: number }>>
  nearCacheHitRate: number | null
}

interface RemoteStats {
  pid: number
  requests: number
  seen: string[]
  nearCache: { hits: number; misses: number } | null
}

/** Keys sampled to estimate each instance's share of a ring's keyspace. */
const SAMPLE = 20_000

export function dashboardStats({ sessions, nodes, nodeOf }: ShopSessions, upstreams: Upstreams, router: Router) {
  // The keyspace share never changes while the instances stay the same: compute it once.
  const keyspace = new Map<string, Map<string, number>>()
  for (const service of Object.keys(upstreams)) {
    const ring = router.ring(service)
    const counts = new Map<string, number>()
    if (ring) for (let i = 0; i < SAMPLE; i++) counts.set(ring.owner(`sample-${i}`), (counts.get(ring.owner(`sample-${i}`)) ?? 0) + 1)
    keyspace.set(service, counts)
  }

  return async function collect(): Promise<DashboardStats> {
    const now = Date.now()
    const live: string[] = []
    let cursor: string | null = null
    do {
      const page = await sessions.store.scan({ cursor, limit: 500, now })
      for (const s of page.sessions) if (s.expiresAt > now) live.push(s.id)
      cursor = page.cursor
    } while (cursor !== null)
    const liveRefs = new Set(live.map(sessionRef))

    const instances = await Promise.all(
      Object.entries(upstreams).flatMap(([service, list]) =>
        list.map(async (u): Promise<InstanceStats> => {
          try {
            const res = await fetch(`${u.url}/internal/stats`, { signal: AbortSignal.timeout(1000) })
            const r = (await res.json()) as RemoteStats
            const hits = r.nearCache ? r.nearCache.hits / Math.max(1, r.nearCache.hits + r.nearCache.misses) : null
            return { id: u.id, service, up: true, pid: r.pid, requests: r.requests, sessions: r.seen.filter((ref) => liveRefs.has(ref)).length, nearCacheHitRate: hits }
          } catch {
            return { id: u.id, service, up: false, pid: null, requests: 0, sessions: 0, nearCacheHitRate: null }
          }
        }),
      ),
    )

    const rings: DashboardStats['rings'] = {}
    for (const [service, list] of Object.entries(upstreams)) {
      const ring = router.ring(service)
      const owned = new Map<string, number>()
      if (ring) for (const id of live) owned.set(ring.owner(id), (owned.get(ring.owner(id)) ?? 0) + 1)
      rings[service] = list.map((u) => ({ instance: u.id, keyspace: (keyspace.get(service)?.get(u.id) ?? 0) / SAMPLE, sessions: owned.get(u.id) ?? 0 }))
    }

    instances.sort((a, b) => a.id.localeCompare(b.id))
    const perNode = new Map<string, number>(nodes.map((n) => [n, 0]))
    for (const id of live) perNode.set(nodeOf(id), (perNode.get(nodeOf(id)) ?? 0) + 1)
    const rates = instances.map((i) => i.nearCacheHitRate).filter((r): r is number => r !== null)
    return {
      at: now,
      routing: router.affinity ? 'affinity' : 'round-robin',
      live: live.length,
      storeNodes: [...perNode].map(([node, n]) => ({ node, sessions: n })).sort((a, b) => a.node.localeCompare(b.node)),
      store: storeLabel(),
      instances,
      rings,
      nearCacheHitRate: rates.length ? rates.reduce((a, b) => a + b, 0) / rates.length : null,
    }
  }
}
