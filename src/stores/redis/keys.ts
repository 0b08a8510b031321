/**
 * The key layout. Every key of one session (its hash) shares a hash slot with the expiry
 * index of its bucket, through the `{bucket}` hash tag, so a save is one script on one
 * node even on Redis Cluster; no operation needs two slots at once (changing an id moves
 * the session with single-slot steps, never a cross-slot RENAME).
 *
 *   <prefix>{<bucket>}:s:<id>     hash: meta fields `#…`, attributes `a:<name>`
 *   <prefix>{<bucket>}:l:<id>     string: the session lock's holder, with the lease as its TTL
 *   <prefix>{<bucket>}:expiries   sorted set: id scored by expiresAt (the sweeper's work list)
 *   <prefix>u:{<principal>}       sorted set: ids of one principal scored by absolute deadline
 *   <prefix>lease:sweeper         string: which instance sweeps now
 *   <prefix>changes               pub/sub channel (not a key): `<version> <id>` per save, `- <id>` per removal
 */
import { ConfigurationError } from '../../core/errors.js'

/** 256 buckets: enough slots to spread over any Cluster, few enough for a sweep to visit all. */
export const BUCKETS = 256

/** A stable, cheap spread of ids over buckets (ids are random, so no cryptographic hash is needed). */
export function bucketOf(id: string): number {
  let h = 0
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) & (BUCKETS - 1)
  return h
}

const hex = (b: number) => b.toString(16).padStart(2, '0')

export class KeyLayout {
  readonly #prefix: string
  constructor(prefix: string) {
    if (/[{}]/.test(prefix)) throw new ConfigurationError(`redisStore: prefix "${prefix}" must not contain { or } (they are hash tags)`)
    this.#prefix = prefix
  }
  session(id: string): string {
    return `${this.#prefix}{${hex(bucketOf(id))}}:s:${id}`
  }
  /** The session's lease lock: same slot as the session, whose `#f` holds the fence. */
  lock(id: string): string {
    return `${this.#prefix}{${hex(bucketOf(id))}}:l:${id}`
  }
  expiriesOf(id: string): string {
    return this.bucketExpiries(bucketOf(id))
  }
  bucketExpiries(bucket: number): string {
    return `${this.#prefix}{${hex(bucket)}}:expiries`
  }
  bucketSession(bucket: number, id: string): string {
    return `${this.#prefix}{${hex(bucket)}}:s:${id}`
  }
  /** Scripts that maintain the index inline (one node) build index keys from this. */
  get principalPrefix(): string {
    return `${this.#prefix}u:`
  }
  principal(principal: string): string {
    return `${this.#prefix}u:{${principal}}`
  }
  /** The change feed's channel. */
  get changes(): string {
    return `${this.#prefix}changes`
  }
  get sweeperLease(): string {
    return `${this.#prefix}lease:sweeper`
  }
}

/** Runs `fn` over every bucket, `width` at a time (each bucket is one slot, so Cluster spreads them). */
export async function eachBucket<T>(fn: (bucket: number) => Promise<T>, width = 32, from = 0): Promise<T[]> {
  const out: T[] = []
  for (let b = from; b < BUCKETS; b += width) {
    const batch = []
    for (let i = b; i < Math.min(b + width, BUCKETS); i++) batch.push(fn(i))
    out.push(...(await Promise.all(batch)))
  }
  return out
}
