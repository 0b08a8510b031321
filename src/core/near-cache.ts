import type { StoredSession } from './store.js'

export interface NearCacheStats {
  hits: number
  misses: number
  size: number
  /** False while a change feed is down: every read goes to the store. */
  enabled: boolean
  /** How many times a feed outage emptied the cache. */
  flushes: number
}

/** How many recent invalidations are remembered to veto fills that raced them. */
const RECENT_MAX = 10_000

/**
 * This instance's copy of recently used sessions, so a read-only request needs no store call.
 * Coherence comes from change feeds (the store's own, announced atomically with each write,
 * and the change bus): every change on any instance invalidates the entry. The bound on a
 * stale read is the feed's delivery time; if a bus event is lost (its writer died between
 * the store write and the publish) and the store has no feed of its own, it is the entry's
 * `ttlMs`. While a feed is down the cache is empty and bypassed.
 *
 * Fills race invalidations: a copy read from the store (or just saved) may be older than a
 * change announced while it was on its way. So every fill names the position (`mark()`)
 * taken before its copy was obtained, and is refused if anything newer than the copy was
 * announced for that session since. A save's own announcement, at the version saved, does
 * not refuse the saved copy.
 */
export class NearCache {
  readonly #entries = new Map<string, { record: StoredSession; until: number }>()
  readonly #max: number
  readonly #ttlMs: number
  #enabled = false
  #hits = 0
  #misses = 0
  #flushes = 0
  /** Counts invalidations (and flushes): positions for `mark()`. */
  #seq = 0
  #flushedAt = 0
  /**
   * Recent invalidations by id: the position of the latest one that named no version, and of
   * the latest versioned one with its version (a session's versions only grow).
   */
  readonly #recent = new Map<string, { anyAt: number; versionAt: number; version: number }>()
  /** Position of the newest invalidation no longer in #recent: fills marked before it are refused. */
  #forgottenAt = 0

  constructor(max: number, ttlMs: number) {
    this.#max = max
    this.#ttlMs = ttlMs
  }

  get enabled(): boolean {
    return this.#enabled
  }

  /**
   * The cached record (counted as a hit), or null (a miss). It is the cache's own object:
   * never mutate it; copy what will change.
   */
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
    return entry.record
  }

  /** The current position: take it before reading the copy a later `fill` will offer. */
  mark(): number {
    return this.#seq
  }

  /** Caches a copy of `record` unless a change newer than it was announced since `since`. */
  fill(record: StoredSession, since: number, now: number): void {
    if (!this.#enabled) return
    const existing = this.#entries.get(record.id)
    if (!this.#current(record, since)) {
      // The store is at least at this record's version: an older copy is stale for sure.
      if (existing && existing.record.version < record.version) this.#entries.delete(record.id)
      return
    }
    if (existing && existing.record.version > record.version) return
    this.#entries.delete(record.id)
    this.#entries.set(record.id, { record: { ...record, attributes: new Map(record.attributes) }, until: now + this.#ttlMs })
    while (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value as string)
  }

  #current(record: StoredSession, since: number): boolean {
    if (since < this.#flushedAt) return false
    const recent = this.#recent.get(record.id)
    if (recent) return recent.anyAt <= since && (recent.versionAt <= since || recent.version <= record.version)
    return since >= this.#forgottenAt
  }

  /** Session `id` changed: at `version` (a copy at that version or later stays), or in any way (null). */
  invalidate(id: string, version: number | null = null): void {
    const seq = ++this.#seq
    const v = version ?? Number.POSITIVE_INFINITY
    const entry = this.#entries.get(id)
    if (entry && entry.record.version < v) this.#entries.delete(id)
    const previous = this.#recent.get(id) ?? { anyAt: 0, versionAt: 0, version: 0 }
    this.#recent.delete(id)
    this.#recent.set(id, version === null ? { ...previous, anyAt: seq } : { ...previous, versionAt: seq, version: Math.max(previous.version, version) })
    if (this.#recent.size > RECENT_MAX) {
      const [oldest, r] = this.#recent.entries().next().value as [string, { anyAt: number; versionAt: number }]
      this.#recent.delete(oldest)
      this.#forgottenAt = Math.max(r.anyAt, r.versionAt)
    }
  }

  /** A feed dropped (false) or every feed is back (true). Dropping empties the cache and stops filling it. */
  setEnabled(enabled: boolean): void {
    if (!enabled) {
      if (this.#enabled) this.#flushes++
      this.#flushedAt = ++this.#seq
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
