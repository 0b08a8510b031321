import type { StoredSession } from './store.js'

export interface NearCacheStats {
  hits: number
  misses: number
  size: number
  /** False while the change bus is down: every read goes to the store. */
  enabled: boolean
  /** How many times a bus outage emptied the cache. */
  flushes: number
}

/**
 * This instance's copy of recently read sessions, so a read-only request needs no store call.
 * Coherence comes from the change bus: every change on any instance invalidates the entry.
 * The bound on a stale read is the bus's delivery time; if an event is lost (its writer died
 * between the store write and the publish) it is the entry's `ttlMs`. While the bus is down
 * the cache is empty and bypassed.
 *
 * A load that was in flight when its session was invalidated is not cached: it may have
 * read the store before the change.
 */
export class NearCache {
  readonly #entries = new Map<string, { record: StoredSession; until: number }>()
  readonly #max: number
  readonly #ttlMs: number
  #enabled = false
  #hits = 0
  #misses = 0
  #flushes = 0
  /** Invalidation counter: a load may fill the cache only if nothing it could have missed happened since it began. */
  #seq = 0
  #flushedAt = 0
  #inflight = 0
  readonly #invalidatedAt = new Map<string, number>()

  constructor(max: number, ttlMs: number) {
    this.#max = max
    this.#ttlMs = ttlMs
  }

  get enabled(): boolean {
    return this.#enabled
  }

  /** A copy of the cached record, or null (counted as a miss). */
  get(id: string, now: number): StoredSession | null {
    const entry = this.#entries.get(id)
    if (!entry || entry.until <= now || entry.record.expiresAt <= now) {
      if (entry) this.#entries.delete(id)
      this.#misses++
      return null
    }
    // Map order is recency order: re-insert on use, evict from the front.
    this.#entries.delete(id)
    this.#entries.set(id, entry)
    this.#hits++
    return { ...entry.record, attributes: new Map(entry.record.attributes) }
  }

  /** Call before reading the store; pass the result to `endLoad`. */
  beginLoad(): number {
    this.#inflight++
    return this.#seq
  }

  endLoad(id: string, startedAt: number, record: StoredSession | null, now: number): void {
    this.#inflight--
    const fresh = startedAt >= this.#flushedAt && (this.#invalidatedAt.get(id) ?? -1) <= startedAt
    if (this.#enabled && record && fresh) {
      this.#entries.set(id, { record: { ...record, attributes: new Map(record.attributes) }, until: now + this.#ttlMs })
      while (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value as string)
    }
    if (this.#inflight === 0) this.#invalidatedAt.clear()
  }

  invalidate(id: string): void {
    this.#seq++
    this.#entries.delete(id)
    if (this.#inflight > 0) this.#invalidatedAt.set(id, this.#seq)
  }

  /** The bus dropped (false) or came back (true). Dropping empties the cache and stops filling it. */
  setEnabled(enabled: boolean): void {
    if (!enabled) {
      if (this.#enabled) this.#flushes++
      this.#seq++
      this.#flushedAt = this.#seq
      this.#entries.clear()
    }
    this.#enabled = enabled
  }

  stats(): NearCacheStats {
    return { hits: this.#hits, misses: this.#misses, size: this.#entries.size, enabled: this.#enabled, flushes: this.#flushes }
  }

  clear(): void {
    this.#entries.clear()
  }
}
