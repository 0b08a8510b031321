import { ConfigurationError, TooManySessionsError } from './errors.js'
import type { SessionEvents } from './events.js'
import type { SessionStore, StoredSession } from './store.js'

/** `maxSessionsPerPrincipal`, read. */
export interface PrincipalLimit {
  max: number
  policy: 'evict-oldest' | 'refuse'
}

/**
 * Runs `save` (a save that gives session `id` the principal) within the limit: `refuse`
 * checks before it (TooManySessionsError, nothing saved); `evict-oldest` destroys that
 * principal's oldest other sessions after it.
 */
export type PrincipalSave = (id: string, principal: string, now: number, save: () => Promise<void>) => Promise<void>

export function principalLimit(option: number | { max: number; policy?: 'evict-oldest' | 'refuse' } | undefined): PrincipalLimit | null {
  if (option === undefined) return null
  const { max, policy = 'evict-oldest' } = typeof option === 'number' ? { max: option } : option
  if (!Number.isInteger(max) || max < 1) throw new ConfigurationError('maxSessionsPerPrincipal must be a whole number >= 1')
  if (policy !== 'evict-oldest' && policy !== 'refuse') throw new ConfigurationError(`maxSessionsPerPrincipal.policy must be 'evict-oldest' or 'refuse'`)
  return { max, policy }
}

/** The save hook that keeps `limit`, over the per-principal index of `store`. */
export function limitedPrincipalSave(limit: PrincipalLimit, store: SessionStore, events: SessionEvents): PrincipalSave {
  const { max, policy } = limit
  return async (id, principal, now, save) => {
    if (policy === 'refuse') {
      const others = (await store.findByPrincipal(principal, now)).filter((other) => other !== id)
      if (others.length >= max) throw new TooManySessionsError(max)
      return save()
    }
    await save()
    // The principal's oldest sessions (by creation) beyond `max`, this one never among them.
    const ids = await store.findByPrincipal(principal, now)
    if (ids.length <= max) return
    const others = await Promise.all(ids.filter((other) => other !== id).map((other) => store.load(other, now)))
    const oldest = others.filter((s): s is StoredSession => s !== null).sort((a, b) => a.createdAt - b.createdAt)
    for (const s of oldest.slice(0, ids.length - max)) {
      if (await store.destroy(s.id)) events.emit('destroyed', { id: s.id, principal, at: now, reason: 'evicted' })
    }
  }
}
