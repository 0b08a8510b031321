/**
 * Prometheus metrics for sessionmesh (`sessionmesh/metrics`), on prom-client 15, an optional
 * peer dependency loaded on first use (or pass your own `client`). See docs/METRICS.md.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Counter, Gauge, Registry } from 'prom-client'
import { ConfigurationError } from '../core/errors.js'
import type { Sessions } from '../core/manager.js'
import type { SessionStore } from '../core/store.js'
import { instrumentStore } from './instrument.js'
import { loadPromClient, type PromClientModule } from './load.js'

export { loadPromClient, type PromClientModule } from './load.js'
export { OPERATIONS, outcomeOf, type Operation } from './instrument.js'

export interface SessionMetricsOptions {
  /** The prom-client module to use. Default: `prom-client`, loaded on first use. */
  client?: PromClientModule
  /** Where the metrics are registered. Default: the client's global `register`. */
  registry?: Registry
  /** Prefix of every metric name. Default `sessionmesh_`. */
  prefix?: string
  /**
   * How long a scrape reuses the last `store.count()` for `sessions_active`, so frequent
   * scrapes (or several Prometheus servers) do not each count a big store. Default 5000 ms.
   */
  countCacheMs?: number
  /** Histogram buckets (seconds) of store operation latency. */
  storeBuckets?: number[]
  /** Histogram buckets (seconds) of lock waits. */
  lockBuckets?: number[]
}

/** What a cache reports to `cacheStats`: running totals since it started (a restart may reset them). */
export interface CacheStatsSnapshot {
  hits: number
  misses: number
  /** Entries held now, if known. */
  entries?: number
}

export interface SessionMetrics {
  readonly registry: Registry
  /** The exposition format's content type, for `text()`. */
  readonly contentType: string
  /**
   * The store with every operation timed (`<prefix>store_operation_duration_seconds`).
   * Wrap it before handing it to `createSessions`.
   */
  instrument<S extends SessionStore>(store: S): S
  /**
   * Counts the events of `sessions` and reports its live sessions. One `Sessions` at a time;
   * returns a function that detaches it.
   */
  attach(sessions: Sessions): () => void
  /**
   * Reports a cache's hits and misses, read from `provider` on every scrape (the near cache
   * plugs in here). `cache` names it in the `cache` label (default `near`). Returns a
   * function that stops reporting it.
   */
  cacheStats(provider: () => CacheStatsSnapshot, options?: { cache?: string }): () => void
  /** The registry in the text exposition format (every metric in it, not only ours). */
  text(): Promise<string>
  /** A node:http handler serving `text()`: mount it at `/metrics`. */
  handler(): (req: IncomingMessage, res: ServerResponse) => void
}

const STORE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
const LOCK_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/**
 * Prometheus metrics for a sessionmesh fleet: store latency by operation and outcome, live
 * sessions, session events, lock waits and cache hit rates.
 *
 * @example
 * import { sessionMetrics } from 'sessionmesh/metrics'
 * const metrics = sessionMetrics({ prefix: 'sessionmesh_' })
 * const sessions = createSessions({ store: metrics.instrument(redisStore({ url })), secret })
 * metrics.attach(sessions)
 * app.get('/metrics', metrics.handler())
 */
export function sessionMetrics(options: SessionMetricsOptions = {}): SessionMetrics {
  const client = options.client ?? loadPromClient()
  const registry = options.registry ?? client.register
  const p = options.prefix ?? 'sessionmesh_'
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(p)) throw new ConfigurationError(`sessionMetrics: prefix "${p}" is not a valid start of a Prometheus metric name`)
  const countCacheMs = options.countCacheMs ?? 5000
  if (!Number.isFinite(countCacheMs) || countCacheMs < 0) throw new ConfigurationError('sessionMetrics: countCacheMs must be a number of milliseconds >= 0')
  const registers = [registry]

  let attached: Sessions | null = null
  let cached: { value: number; at: number } | null = null
  let counting: Promise<void> | null = null
  const caches = new Map<string, () => CacheStatsSnapshot>()

  /** Registration clashes (a second sessionMetrics on one registry) as a clear configuration error. */
  const make = <T>(build: () => T): T => {
    try {
      return build()
    } catch (e) {
      throw new ConfigurationError(
        `sessionMetrics: ${(e as Error).message}; use one sessionMetrics per registry, or another prefix or registry`,
        { cause: e },
      )
    }
  }

  const storeLatency = make(
    () =>
      new client.Histogram({
        name: `${p}store_operation_duration_seconds`,
        help: 'Time of one session store operation, by store kind, operation and outcome (ok, or the error code)',
        labelNames: ['store', 'operation', 'outcome'] as const,
        buckets: options.storeBuckets ?? STORE_BUCKETS,
        registers,
      }),
  )

  make(
    () =>
      new client.Gauge({
        name: `${p}sessions_active`,
        help: `Live sessions in the store (store.count, cached for ${countCacheMs} ms)`,
        registers,
        async collect(this: Gauge) {
          const sessions = attached
          if (!sessions) return
          if (!cached || Date.now() - cached.at >= countCacheMs) {
            // Concurrent scrapes share one count.
            counting ??= sessions.store
              .count(Date.now())
              .then(
                (value) => {
                  cached = { value, at: Date.now() }
                },
                // A failed count keeps the last value (a scrape must not fail with the store);
                // the failure goes where the app already listens for background errors.
                (e: unknown) => sessions.events.reportError(e as Error),
              )
              .finally(() => {
                counting = null
              })
            await counting
          }
          if (cached) this.set(cached.value)
        },
      }),
  )

  const created = make(() => new client.Counter({ name: `${p}sessions_created_total`, help: 'Sessions created (first saved)', registers }))
  const destroyed = make(
    () =>
      new client.Counter({
        name: `${p}sessions_destroyed_total`,
        help: 'Sessions ended before their time, by reason (destroy, revoked, regenerate, evicted)',
        labelNames: ['reason'] as const,
        registers,
      }),
  )
  const expired = make(() => new client.Counter({ name: `${p}sessions_expired_total`, help: 'Sessions the sweeper found expired', registers }))
  const idChanged = make(() => new client.Counter({ name: `${p}session_id_changes_total`, help: 'Session ids changed (regenerate, renewal)', registers }))
  const updated = make(() => new client.Counter({ name: `${p}session_updates_total`, help: 'Saves that changed attributes or the principal', registers }))
  const lockWait = make(
    () =>
      new client.Histogram({
        name: `${p}lock_wait_seconds`,
        help: 'Time waited for a session lock, by outcome (acquired, timeout)',
        labelNames: ['outcome'] as const,
        buckets: options.lockBuckets ?? LOCK_BUCKETS,
        registers,
      }),
  )

  /** Running totals copied from each provider on scrape: reset, then set, so a removed cache disappears. */
  const fromCaches = (field: 'hits' | 'misses') =>
    async function collect(this: Counter<'cache'>) {
      this.reset()
      for (const [cache, provider] of caches) {
        const value = provider()[field]
        if (Number.isFinite(value) && value >= 0) this.inc({ cache }, value)
      }
    }
  make(
    () =>
      new client.Counter({ name: `${p}cache_hits_total`, help: 'Session loads answered by a cache', labelNames: ['cache'] as const, registers, collect: fromCaches('hits') }),
  )
  make(
    () =>
      new client.Counter({ name: `${p}cache_misses_total`, help: 'Session loads a cache could not answer', labelNames: ['cache'] as const, registers, collect: fromCaches('misses') }),
  )
  make(
    () =>
      new client.Gauge({
        name: `${p}cache_entries`,
        help: 'Entries a cache holds',
        labelNames: ['cache'] as const,
        registers,
        collect(this: Gauge<'cache'>) {
          this.reset()
          for (const [cache, provider] of caches) {
            const entries = provider().entries
            if (entries !== undefined) this.set({ cache }, entries)
          }
        },
      }),
  )

  return {
    registry,
    contentType: registry.contentType,

    instrument: <S extends SessionStore>(store: S) => instrumentStore(store, storeLatency),

    attach(sessions) {
      if (attached) throw new ConfigurationError('sessionMetrics: already attached to a Sessions; call the function attach() returned first')
      attached = sessions
      cached = null
      const listeners = {
        created: () => created.inc(),
        destroyed: ({ reason }: { reason: string }) => destroyed.inc({ reason }),
        expired: () => expired.inc(),
        'id-changed': () => idChanged.inc(),
        updated: () => updated.inc(),
        lock: ({ waitedMs, outcome }: { waitedMs: number; outcome: string }) => lockWait.observe({ outcome }, waitedMs / 1000),
      }
      const ev = sessions.events
      ev.on('created', listeners.created)
      ev.on('destroyed', listeners.destroyed)
      ev.on('expired', listeners.expired)
      ev.on('id-changed', listeners['id-changed'])
      ev.on('updated', listeners.updated)
      ev.on('lock', listeners.lock)
      return () => {
        ev.off('created', listeners.created)
        ev.off('destroyed', listeners.destroyed)
        ev.off('expired', listeners.expired)
        ev.off('id-changed', listeners['id-changed'])
        ev.off('updated', listeners.updated)
        ev.off('lock', listeners.lock)
        if (attached === sessions) attached = null
      }
    },

    cacheStats(provider, { cache = 'near' } = {}) {
      if (caches.has(cache)) throw new ConfigurationError(`sessionMetrics: a cache named "${cache}" is already reported`)
      caches.set(cache, provider)
      return () => {
        if (caches.get(cache) === provider) caches.delete(cache)
      }
    },

    text: () => registry.metrics(),

    handler() {
      return (_req, res) => {
        registry.metrics().then(
          (text) => {
            res.statusCode = 200
            res.setHeader('content-type', registry.contentType)
            res.end(text)
          },
          (e: unknown) => {
            res.statusCode = 500
            res.setHeader('content-type', 'text/plain; charset=utf-8')
            res.end(`metrics collection failed: ${(e as Error).message}\n`)
          },
        )
      }
    },
  }
}
