import { SessionNotFoundError, VersionConflictError } from './errors.js'
import type { NearCache } from './near-cache.js'
import type { ApplyConditions, ApplyResult, SessionDelta, SessionStore, StoredSession } from './store.js'

/**
 * The near cache's save protocol for one request's session: where the session was read
 * (the cache's position before the read, so a refill cannot overtake a newer change) and, on
 * a cache hit, the values as cached and which of them the request read, so a save made from
 * a stale copy overwrites nothing the request decided on.
 */
export class CachedSave {
  readonly #cache: NearCache
  /** The cache's position before the session was read; undefined: its copy may not refill the cache. */
  readonly #mark: number | undefined
  /** Served from the cache: the stored values as read, and the names the request read. */
  #hit: { attributes: ReadonlyMap<string, string>; principal: string | null; read: Set<string> } | null

  constructor(cache: NearCache, mark: number | undefined, hit: { attributes: ReadonlyMap<string, string>; principal: string | null } | null) {
    this.#cache = cache
    this.#mark = mark
    this.#hit = hit ? { ...hit, read: new Set() } : null
  }

  /** The request read attribute `name` (from the cached copy, if it was one). */
  noteRead(name: string): void {
    this.#hit?.read.add(name)
  }

  /**
   * Applies a save. From a cached copy: only at the version read; if the store moved on, it is
   * still applied when every attribute it writes that the request read (and the principal) is
   * as the cache had it, since then it overwrites nothing it did not see; otherwise
   * VersionConflictError, because the request decided on data that was stale.
   */
  async apply(store: SessionStore, id: string, version: number, delta: SessionDelta, conditions: ApplyConditions | undefined): Promise<ApplyResult> {
    const hit = this.#hit
    if (!hit) return store.apply(id, delta, conditions)
    let expected = version
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await store.apply(id, delta, { ...conditions, expectedVersion: expected })
        this.#hit = null
        return result
      } catch (e) {
        if (!(e instanceof VersionConflictError) || attempt >= 10) throw e
        const fresh = await store.load(id, delta.lastAccessedAt)
        if (!fresh) throw new SessionNotFoundError(id)
        // Only a write that depends on what the request read from the stale copy is refused: a
        // blind set (a "last seen" time) overwrites nothing the request decided on.
        const stale =
          [...delta.attributes.keys()].some((name) => hit.read.has(name) && fresh.attributes.get(name) !== hit.attributes.get(name)) ||
          (delta.principal !== undefined && fresh.principal !== hit.principal)
        if (stale) throw e
        expected = fresh.version
      }
    }
  }

  /**
   * After a write: when the store now holds exactly this request's view (`exact`: the save
   * was the only change since the version read) the cache gets it, so the next request needs
   * no load; otherwise (or under a lock, whose fence moved the store on) the copy is dropped.
   */
  written(record: StoredSession, exact: boolean, fenced: boolean, now: number): void {
    if (exact && this.#mark !== undefined && !fenced) this.#cache.fill(record, this.#mark, now)
    else this.#cache.invalidate(record.id)
  }

  /** The store computed a value this request had not seen: the cached copy is out of date. */
  invalidate(id: string): void {
    this.#cache.invalidate(id)
  }
}
