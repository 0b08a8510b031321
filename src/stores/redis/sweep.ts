/**
 * The sweeper: reports every expiry exactly once, without keyspace notifications. One
 * instance at a time sweeps (a lease, kept by sweeping); it reads each bucket's due ids,
 * then one script per bucket removes those still due and returns them with their principals
 * (the ZREM inside the script is what makes each expiry reported by one sweep only).
 */
import type { CallOf, LuaScript, RedisConnection, ReplyOf } from '../../redis/index.js'
import { BUCKETS, eachBucket, type KeyLayout } from './keys.js'
import type { PrincipalIndex } from './principals.js'
import { SWEEP, TAKE_LEASE } from './scripts.js'

type Expired = { id: string; principal: string | null }

export interface SweeperOptions {
  keys: KeyLayout
  index: PrincipalIndex
  /** This instance's lease token. */
  owner: string
  /** How long the lease is held after each sweep. */
  leaseMs: number
  /** Runs a writing script (with the store's durability). */
  write: <S extends LuaScript>(c: RedisConnection, script: S, call: CallOf<S>) => Promise<ReplyOf<S>>
  /** A failure the sweep lived through (the call still succeeds). */
  report: (e: unknown, what: string) => void
}

/** The store's `sweep`, on a connection. */
export function sweeper(o: SweeperOptions) {
  const { keys } = o

  /** The ids due in one bucket (a read; the sweep script re-checks each one). */
  const dueIn = (c: RedisConnection, bucket: number, now: number, limit: number) => {
    const zkey = keys.bucketExpiries(bucket)
    return c.command<string[]>(zkey, ['ZRANGEBYSCORE', zkey, '-inf', String(now), 'LIMIT', '0', String(limit)], true)
  }

  const sweepBucket = (c: RedisConnection, bucket: number, due: string[], now: number): Promise<Expired[]> =>
    o.write(c, SWEEP, { keys: { expiries: keys.bucketExpiries(bucket), sessions: due.map((id) => keys.bucketSession(bucket, id)) }, args: { now, ids: due } })

  return async (c: RedisConnection, now: number, limit: number): Promise<Expired[]> => {
    // One sweeper at a time: the holder keeps the lease by sweeping; others skip until it lapses.
    if (!(await c.run(TAKE_LEASE, { keys: { lease: keys.sweeperLease }, args: { owner: o.owner, ttlMs: o.leaseMs } }))) return []
    const cap = Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : 1000
    const due = await eachBucket((b) => dueIn(c, b, now, cap))
    // Candidates up to the limit, then one script per bucket that has some.
    const plan: Array<[number, string[]]> = []
    let planned = 0
    for (let b = 0; b < BUCKETS && planned < cap; b++) {
      const ids = (due[b] ?? []).slice(0, cap - planned)
      if (ids.length > 0) plan.push([b, ids])
      planned += ids.length
    }
    // A bucket whose script ran has deleted its sessions: its report must not be lost because
    // another bucket failed. A failed bucket's sessions are still due, so the next sweep retries them.
    const settled = await Promise.allSettled(plan.map(([b, ids]) => sweepBucket(c, b, ids, now)))
    const found = settled.flatMap((r) => (r.status === 'fulfilled' ? r.value : []))
    const failed = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed[0] && found.length === 0) throw failed[0].reason
    if (failed[0]) o.report(failed[0].reason, `sweep: ${failed.length} of ${plan.length} buckets failed (retried on the next sweep)`)
    // A failed removal only lingers: findByPrincipal skips ids whose session is gone, and the
    // next index write for that user prunes entries past their deadline.
    const removals = await Promise.allSettled(found.filter((e) => e.principal !== null).map((e) => o.index.remove(c, e.principal as string, e.id)))
    const lingering = removals.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (lingering[0]) o.report(lingering[0].reason, `sweep: ${lingering.length} per-user index entries of swept sessions not removed`)
    return found
  }
}
