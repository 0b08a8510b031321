/**
 * The per-user index, `<prefix>u:{<principal>}`: a sorted set of the principal's session ids
 * scored by their absolute deadline. On one node (standalone, Sentinel) the write scripts keep
 * it in step themselves ("inline"); on Cluster it lives in another slot, so the store updates
 * it in steps of its own, ordered so that it is always a superset of the truth (added before
 * a session names the principal, removed after). Readers check every member against its
 * session, so a stale entry costs a check, never a missed session.
 */
import type { StoredSession } from '../../core/store.js'
import type { RedisConnection } from '../../redis/index.js'
import type { KeyLayout } from './keys.js'
import { INDEX_ADD } from './scripts.js'

export interface PrincipalIndex {
  /** The prefix the scripts build index keys from when they keep the index inline; '' on Cluster. */
  inline(c: RedisConnection): string
  /** Cluster: adds `id` (pruning entries past their deadline). */
  add(c: RedisConnection, principal: string, id: string, deadline: string, now: number): Promise<void>
  /** Cluster: removes `id`. */
  remove(c: RedisConnection, principal: string, id: string): Promise<void>
  /** The ids of `principal`'s live sessions; entries whose session is gone or moved on are pruned. */
  find(c: RedisConnection, principal: string, now: number, peek: (id: string) => Promise<StoredSession | null>): Promise<string[]>
}

export function principalIndex(keys: KeyLayout): PrincipalIndex {
  return {
    inline: (c) => (c.mode === 'cluster' ? '' : keys.principalPrefix),
    add: (c, principal, id, deadline, now) => c.run(INDEX_ADD, { keys: { index: keys.principal(principal) }, args: { id, deadline, now } }),
    async remove(c, principal, id) {
      await c.command(keys.principal(principal), ['ZREM', keys.principal(principal), id])
    },
    async find(c, principal, now, peek) {
      const ikey = keys.principal(principal)
      const ids = await c.command<string[]>(ikey, ['ZRANGEBYSCORE', ikey, `(${now}`, '+inf'], true)
      const found = await Promise.all(ids.map((id) => peek(id)))
      const live: string[] = []
      const stale: string[] = []
      ids.forEach((id, i) => (found[i]?.principal === principal ? live : stale).push(id))
      if (stale.length > 0) await c.command(ikey, ['ZREM', ikey, ...stale])
      return live
    },
  }
}
