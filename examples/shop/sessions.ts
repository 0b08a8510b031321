/**
 * The one session setup every process of the demo shares: same store, same secret, same
 * timeouts. That is all it takes for a login on `auth-1` to be seen by `orders-2`.
 */
import { createSessions, murmur3, type Sessions, type SessionStore, shardedStore } from '../../src/index.js'
import { type SessionMetrics, sessionMetrics } from '../../src/metrics/index.js'
import { redisStore, redisStreamBus } from '../../src/stores/redis/index.js'
import { sqliteStore } from '../../src/stores/sqlite/index.js'

/** Demo-only default; set SESSION_SECRET (>= 32 bytes) for anything real. */
const DEMO_SECRET = 'demo-only-secret-change-me-0123456789abcdef'

/**
 * `SESSIONMESH_STORE=redis://…` selects Redis; several URLs separated by commas shard the
 * sessions over independent Redis servers (a consistent-hash ring); anything else, the SQLite file.
 */
export function redisUrls(): string[] {
  const urls = (process.env.SESSIONMESH_STORE ?? '').split(',').map((u) => u.trim())
  return urls.every((u) => u.startsWith('redis://') || u.startsWith('rediss://')) ? urls : []
}

export function sqlitePath(): string {
  return process.env.SESSIONMESH_SQLITE ?? '.data/sessions.db'
}

/** A Redis URL's host:port, for names and messages (never its password). */
function hostOf(url: string): string {
  try {
    return new URL(url).host
  } catch {
    return 'redis'
  }
}

/** Where sessions live, for start-up messages and the dashboard. */
export function storeLabel(): string {
  const urls = redisUrls()
  if (urls.length === 0) return `SQLite ${sqlitePath()}`
  return urls.length === 1 ? `Redis ${hostOf(urls[0] as string)}` : `${urls.length} Redis nodes, sharded: ${urls.map(hostOf).join(', ')}`
}

export interface ShopSessions {
  sessions: Sessions
  /** The store's nodes: one unless the store is sharded. */
  nodes: readonly string[]
  /** The store node that holds a session. */
  nodeOf: (id: string) => string
  /** This process's Prometheus metrics (store latency, sessions active, events, lock waits, near cache). */
  metrics: SessionMetrics
}

/**
 * The manager for one process. `sweep: false` for processes that only read tokens and
 * stats (the gateway): the services' sweepers already emit `expired`.
 */
export function shopSessions(options: { sweep?: boolean } = {}): ShopSessions {
  const urls = redisUrls()
  let store: SessionStore
  let nodeOf: (id: string) => string
  let nodes: readonly string[]
  if (urls.length > 1) {
    const sharded = shardedStore({ nodes: Object.fromEntries(urls.map((url) => [hostOf(url), redisStore({ url, prefix: 'shop:' })])) })
    store = sharded
    nodeOf = (id) => sharded.ownerOf(id)
    nodes = sharded.nodes
  } else {
    const name = urls[0] ? `redis ${hostOf(urls[0])}` : 'sqlite'
    store = urls[0] ? redisStore({ url: urls[0], prefix: 'shop:' }) : sqliteStore({ path: sqlitePath() })
    nodeOf = () => name
    nodes = [name]
  }
  const metrics = sessionMetrics()
  const sessions = createSessions({
    store: metrics.instrument(store),
    // On Redis, every instance hears every change over a Redis Stream, and read-only requests
    // are served from each process's near cache. (The SQLite default reads the file each time.)
    ...(urls[0]
      ? { bus: { bus: redisStreamBus({ redis: { url: urls[0] }, stream: 'shop:events' }), instanceId: `shop-${process.pid}` }, nearCache: true }
      : {}),
    secret: [process.env.SESSION_SECRET ?? DEMO_SECRET],
    // The CSRF check is on by default: the pages' same-origin fetches pass (Sec-Fetch-Site:
    // same-origin), forms posted from other ports or sites get 403. The gateway proxies
    // without changeOrigin, so the services see the browser's own Host. Over HTTPS the cookie
    // is `__Host-sid` (see docs/SECURITY.md).
    idleTimeout: '30m',
    absoluteTimeout: '12h',
    // Short, so the dashboard's `expired` events are not only theory in a long demo.
    sweepInterval: options.sweep === false ? false : '15s',
  })
  metrics.attach(sessions)
  if (sessions.nearCacheStats()) {
    metrics.cacheStats(() => {
      const c = sessions.nearCacheStats()
      return { hits: c?.hits ?? 0, misses: c?.misses ?? 0, entries: c?.size ?? 0 }
    })
  }
  return { sessions, nodes, nodeOf, metrics }
}

/**
 * A short, stable, non-reversible name for a session, for pages and event feeds: the id
 * itself is a credential and never leaves the services.
 */
export function sessionRef(id: string): string {
  return murmur3(id, 0x5e55).toString(16).padStart(8, '0')
}
