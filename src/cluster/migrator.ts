/**
 * Moving sessions between the nodes of a `shardedStore`: one session (`moveSession`), a
 * session to a new id on another node (`transferId`), and the background pass that moves
 * everything a ring change displaced (`runMigration`). Only store operations are used, so
 * any `SessionStore` can be a node; the protocol and what it guarantees are in docs/RING.md.
 */
import {
  SessionExistsError,
  SessionMeshError,
  SessionNotFoundError,
  StoreUnavailableError,
  VersionConflictError,
} from '../core/errors.js'
import type { CompleteStore } from '../core/fallbacks.js'
import type { AttributeChange, ScanPage, SessionDelta, StoredSession } from '../core/store.js'
import { NodeUnavailableError } from './errors.js'
import type { HashRing } from './hash-ring.js'

/** Runs one operation on one node, turning its failures into NodeUnavailableError. */
export type NodeCall = <T>(node: string, op: string, id: string | undefined, fn: (store: CompleteStore) => Promise<T>) => Promise<T>

/** What became of one move: copied and the source retired, nothing at the source, already copied by someone else, or destroyed meanwhile. */
export type MoveOutcome = 'moved' | 'absent' | 'elsewhere' | 'destroyed'

/** Attempts before a session that keeps changing under a move is reported instead of chased. */
const MAX_ATTEMPTS = 8

/**
 * Moves session `id` from node `from` to node `to`, never leaving a moment where neither has
 * it: copy first (`create` on `to`), then retire the source with a compare-and-set on the
 * copied version, then destroy it.
 *
 * - `SessionExistsError` on the copy: another mover copied it first, and retiring the source
 *   is that mover's job (only the copier retires, so a source that vanishes under the copier
 *   was destroyed, never moved).
 * - The compare-and-set fails with a newer version: a writer that still routes to `from`
 *   (another instance before it switched rings) changed the source after the copy; the
 *   change is replayed onto the copy as a delta and the retire is tried again.
 * - The source is gone when retiring: it was destroyed during the move, so the copy is
 *   destroyed too (a logout is never undone by a move).
 */
export async function moveSession(call: NodeCall, id: string, from: string, to: string, now: number): Promise<MoveOutcome> {
  let copied = await call(from, 'move', id, (s) => s.load(id, now))
  if (!copied) return 'absent'
  const first = copied
  try {
    await call(to, 'move', id, (s) => s.create(first))
  } catch (e) {
    if (e instanceof SessionExistsError) return 'elsewhere'
    throw e
  }
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    try {
      await retire(call, from, copied)
      return 'moved'
    } catch (e) {
      if (e instanceof SessionNotFoundError) {
        await call(to, 'move', id, (s) => s.destroy(id))
        return 'destroyed'
      }
      if (!(e instanceof VersionConflictError)) throw e
    }
    const later = await call(from, 'move', id, (s) => s.load(id, now))
    const current = await call(to, 'move', id, (s) => s.load(id, now))
    if (!later || !current) {
      // Destroyed on one side while moving: finish the destroy on the other.
      await call(later ? from : to, 'move', id, (s) => s.destroy(id))
      return 'destroyed'
    }
    const replay = catchUp(copied, later, current)
    try {
      await call(to, 'move', id, (s) => s.apply(id, replay.delta, replay.fence === undefined ? {} : { fence: replay.fence }))
    } catch (e) {
      if (!(e instanceof SessionNotFoundError)) throw e
      await call(from, 'move', id, (s) => s.destroy(id))
      return 'destroyed'
    }
    copied = later
  }
  throw new StoreUnavailableError(`shardedStore: a session on node "${from}" kept changing while it was being moved to "${to}"; it stays readable and will be moved later`)
}

/**
 * `changeId` across nodes: copies session `oldId` (on `from`) to `newId` on `to`, then
 * retires the old one if it has not changed since the copy; a change in between undoes
 * the copy and starts again. False if `oldId` does not exist; SessionExistsError if `newId` does.
 */
export async function transferId(call: NodeCall, oldId: string, newId: string, from: string, to: string, now: number): Promise<boolean> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const old = await call(from, 'changeId', oldId, (s) => s.load(oldId, now))
    if (!old) return false
    const renamed: StoredSession = { ...old, id: newId, idIssuedAt: now }
    await call(to, 'changeId', newId, (s) => s.create(renamed))
    try {
      await retire(call, from, old)
      return true
    } catch (e) {
      await call(to, 'changeId', newId, (s) => s.destroy(newId))
      if (e instanceof SessionNotFoundError) return false
      if (!(e instanceof VersionConflictError)) throw e
    }
  }
  throw new StoreUnavailableError('shardedStore: the session kept changing while its id was being changed; try again')
}

/**
 * Ends the source copy atomically if it is still at the copied version: a delta that expires
 * it (expiresAt 0) and clears its principal (so its node's per-user index lets go), applied
 * with `expectedVersion`; then the dead record is destroyed. From the compare-and-set on,
 * every read and write of the source sees "no session", so a late writer gets
 * SessionNotFoundError instead of a write that silently vanishes. The liveness check runs at
 * the copy's own lastAccessedAt, so a session that expires during the move still retires.
 */
async function retire(call: NodeCall, node: string, copied: StoredSession): Promise<void> {
  const id = copied.id
  const end: SessionDelta = { attributes: new Map(), principal: null, lastAccessedAt: copied.lastAccessedAt, expiresAt: 0 }
  await call(node, 'move', id, (s) => s.apply(id, end, { expectedVersion: copied.version }))
  await call(node, 'move', id, (s) => s.destroy(id))
}

/** The changes `later` has over `copied`, as a delta for the copy (`current`), state-based so replaying it twice is harmless. */
function catchUp(copied: StoredSession, later: StoredSession, current: StoredSession): { delta: SessionDelta; fence: number | undefined } {
  const attributes = new Map<string, AttributeChange>()
  for (const [name, value] of later.attributes) if (copied.attributes.get(name) !== value) attributes.set(name, { op: 'set', value })
  for (const name of copied.attributes.keys()) if (!later.attributes.has(name)) attributes.set(name, { op: 'delete' })
  const delta: SessionDelta = {
    attributes,
    // Never move the copy's access time or expiry backwards: it may have been used since.
    lastAccessedAt: Math.max(later.lastAccessedAt, current.lastAccessedAt),
    expiresAt: Math.max(later.expiresAt, current.expiresAt),
  }
  if (later.principal !== copied.principal) delta.principal = later.principal
  return { delta, fence: later.fence > current.fence ? later.fence : undefined }
}

/** A rebalance's progress, as `onProgress` and `rebalance.progress` report it. */
export interface RebalanceProgress {
  /**
   * `draining`: waiting for operations routed by the old ring to finish; `scanning`: listing
   * the sessions to move on the old nodes; `moving`; `done`; `stopped` (the store was closed).
   */
  phase: 'draining' | 'scanning' | 'moving' | 'done' | 'stopped'
  /** Sessions read by the scan so far. */
  scanned: number
  /** Sessions found on a node that no longer owns them: the work to do (known once the scan is over). */
  total: number
  /** Of `total`, moved by the background migrator. */
  moved: number
  /** Of `total`, already gone when the migrator came: moved by a request, by another instance, destroyed or expired. */
  skipped: number
  /** `total - moved - skipped`. */
  remaining: number
  /** Sessions moved by requests (reads and writes move what they touch), whether listed or not. */
  movedOnAccess: number
  /** Failed attempts so far (each is retried); `lastError` is the latest. */
  errors: number
  lastError?: Error
}

export interface MigrationPlan {
  before: HashRing
  after: HashRing
  /** Operations routed by the old ring have finished. */
  ready: Promise<void>
  /** Moves one session as a request would (under the same per-session lock). */
  move(id: string, from: string, to: string): Promise<MoveOutcome>
  call: NodeCall
  batchSize: number
  concurrency: number
  progress: RebalanceProgress
  report(): void
  signal: AbortSignal
}

/**
 * The background pass: once `ready`, scans every node of the old ring for sessions it owned
 * and no longer owns, then moves them, `concurrency` at a time. A failed page or move is
 * retried with a capped backoff until it succeeds or the store is closed (a node that is down
 * holds the rebalance open; reads keep falling back meanwhile).
 */
export async function runMigration(plan: MigrationPlan): Promise<void> {
  const { before, after, progress } = plan
  progress.phase = 'draining'
  plan.report()
  await plan.ready
  progress.phase = 'scanning'
  plan.report()
  const ids: Array<[string, string, string]> = []
  for (const node of before.nodes) {
    let cursor: string | null = null
    do {
      const at: string | null = cursor
      const page: ScanPage = await retrying(plan, () => plan.call(node, 'scan', undefined, (s) => s.scan({ cursor: at, limit: plan.batchSize, now: Date.now() })))
      for (const s of page.sessions) {
        const to = after.owner(s.id)
        if (to !== node && before.owner(s.id) === node) ids.push([s.id, node, to])
      }
      progress.scanned += page.sessions.length
      cursor = page.cursor
      plan.report()
    } while (cursor !== null)
  }
  progress.total = ids.length
  progress.remaining = ids.length
  progress.phase = 'moving'
  plan.report()
  let next = 0
  const worker = async () => {
    while (next < ids.length) {
      const [id, from, to] = ids[next++] as [string, string, string]
      const outcome = await retrying(plan, () => plan.move(id, from, to))
      if (outcome === 'moved') progress.moved++
      else progress.skipped++
      progress.remaining--
      plan.report()
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, plan.concurrency) }, worker))
}

async function retrying<T>(plan: MigrationPlan, attempt: () => Promise<T>): Promise<T> {
  for (let failures = 0; ; failures++) {
    if (plan.signal.aborted) throw new StoreUnavailableError('shardedStore: closed during a rebalance')
    try {
      return await attempt()
    } catch (e) {
      // Refusals other than "unavailable" are bugs or a store breaking its contract: give up loudly.
      if (e instanceof SessionMeshError && !(e instanceof StoreUnavailableError)) throw e
      plan.progress.errors++
      plan.progress.lastError = e instanceof Error ? e : new NodeUnavailableError('?', 'migrate', e)
      plan.report()
      await pause(Math.min(50 * 2 ** failures, 2_000), plan.signal)
    }
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}
