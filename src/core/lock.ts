import { randomBytes } from 'node:crypto'
import { LockLostError, LockTimeoutError, StaleFenceError } from './errors.js'
import type { SessionEvents } from './events.js'
import type { CompleteStore } from './fallbacks.js'

/**
 * Where session locks live. The default keeps each session's lease beside the session in its
 * store (`storeLocks`); `quorumLocks` (sessionmesh/redis) keeps leases on several independent
 * Redis masters. Either way the fence comes from the session's store, which is what refuses a
 * stale holder's save.
 */
export interface SessionLockProvider {
  /** Take the lease for `owner`: the new fence, or null while another owner holds it. */
  acquire(id: string, owner: string, ttlMs: number): Promise<number | null>
  /** Keep holding it for ttlMs more; false once it is lost. */
  extend(id: string, owner: string, ttlMs: number): Promise<boolean>
  release(id: string, owner: string): Promise<void>
  close?(): Promise<void>
}

/** Builds a lock provider over the manager's store and clock (an option of `createSessions`). */
export type SessionLockStrategy = (store: CompleteStore, now: () => number) => SessionLockProvider

/** The default: the lease and the fence in the session's own store, one atomic call each. */
export const storeLocks: SessionLockStrategy = (store, now) => ({
  acquire: (id, owner, ttlMs) => store.lock(id, owner, ttlMs, now()),
  extend: (id, owner, ttlMs) => store.extendLock(id, owner, ttlMs, now()),
  release: async (id, owner) => {
    await store.unlock(id, owner)
  },
})

export interface LockOptions {
  /** Lease length, renewed every third of it while the callback runs. Default 10 s. */
  ttlMs?: number
  /** Longest wait for a lock another holder has. Default 5 s; 0 tries once. */
  waitMs?: number
}

/** What a `withLock` callback gets. */
export interface HeldLock<S> {
  readonly id: string
  /** Rises with every lock taken on this session; saves under the lock carry it. */
  readonly fence: number
  /** Aborted (with LockLostError) when the lease could not be renewed: stop and return. */
  readonly signal: AbortSignal
  /** The session, read after the lock was taken; its saves are fenced. */
  readonly session: S
}

/** What `runLocked` needs to do to the session: reload under the lock, fenced saves. */
export interface LockableSession {
  readonly id: string
  fenceWith(fence: number | undefined): void
  reload(): Promise<void>
  commit(): Promise<void>
  /** Forget unsaved changes (the callback failed: they must not be saved later unfenced). */
  discard(): void
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/**
 * Takes the lock (waiting with jittered backoff up to `waitMs`), renews it while `fn` runs,
 * saves the session with the fence, then releases. If the lease is lost, `fn`'s pending
 * changes are not saved and LockLostError is thrown; a save that raced the loss is refused
 * by the store's fence check and reported the same way.
 */
export async function runLocked<S, T>(
  provider: SessionLockProvider,
  events: SessionEvents,
  now: () => number,
  control: LockableSession,
  session: S,
  fn: (lock: HeldLock<S>) => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const ttlMs = options.ttlMs ?? 10_000
  const waitMs = options.waitMs ?? 5_000
  const id = control.id
  const owner = randomBytes(16).toString('base64url')
  const started = now()
  let fence: number | null = null
  for (let attempt = 0; fence === null; attempt++) {
    fence = await provider.acquire(id, owner, ttlMs)
    if (fence !== null) break
    const waited = now() - started
    if (waited >= waitMs) {
      events.emit('lock', { id, waitedMs: waited, outcome: 'timeout', at: now() })
      throw new LockTimeoutError(id, waited)
    }
    const backoff = Math.min(100, 5 * 2 ** Math.min(attempt, 5))
    await delay(Math.min(waitMs - waited, backoff / 2 + Math.random() * backoff))
  }
  events.emit('lock', { id, waitedMs: now() - started, outcome: 'acquired', at: now() })

  const controller = new AbortController()
  let confirmedAt = now()
  const lost = (cause?: unknown) => {
    if (!controller.signal.aborted) controller.abort(new LockLostError(id, fence, { cause }))
  }
  const renew = setInterval(() => {
    provider.extend(id, owner, ttlMs).then(
      (ok) => {
        if (ok) confirmedAt = now()
        else lost()
      },
      (e: unknown) => {
        // The lock server is unreachable: the lease counts as lost once it may have run out.
        if (now() - confirmedAt >= ttlMs) lost(e)
      },
    )
  }, Math.max(10, Math.floor(ttlMs / 3)))
  renew.unref()
  /**
   * Unsaved changes are dropped, and the session re-read: the callback's values are already
   * in its local view, where the rest of the request could read them (and save something
   * derived from them). Best effort: if the store cannot be read, the error that got us here matters more.
   */
  const forget = async () => {
    control.discard()
    await control.reload().catch(() => {})
  }
  try {
    control.fenceWith(fence)
    await control.reload()
    let result: T
    try {
      result = await fn({ id, fence, signal: controller.signal, session })
    } catch (e) {
      await forget()
      // A save the callback made itself (`session.save()`) refused for its old fence is the
      // same lost lease as one refused when the callback returns: report it the same way.
      if (e instanceof StaleFenceError && e.sessionId === id) throw new LockLostError(id, fence, { cause: e })
      throw e
    }
    if (controller.signal.aborted) {
      await forget()
      throw controller.signal.reason
    }
    try {
      await control.commit()
    } catch (e) {
      await forget()
      if (e instanceof StaleFenceError) throw new LockLostError(id, fence, { cause: e })
      throw e
    }
    return result
  } finally {
    clearInterval(renew)
    control.fenceWith(undefined)
    await provider.release(id, owner).catch((e: unknown) => events.reportError(e as Error))
  }
}
