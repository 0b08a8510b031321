import { ConfigurationError, SessionNotFoundError, VersionConflictError } from './errors.js'
import { applyAtomic, isAtomic } from './ops.js'
import { LOCK_OPERATIONS, REQUIRED_OPERATIONS } from './operations.js'
import type { ApplyConditions, ApplyResult, AttributeChange, SessionDelta, SessionStore } from './store.js'

/** A store with every optional operation present: its own, or the core's fallback. */
export type CompleteStore = SessionStore & Required<Pick<SessionStore, 'lock' | 'extendLock' | 'unlock' | 'raiseFence' | 'count'>> & { readonly atomic: true }

/** How stored values become JSON text and back, for computing on them outside the store (encryption at rest). */
export interface ValueTranslation {
  open(name: string, stored: string): string
  seal(name: string, json: string): string
}

const asStored: ValueTranslation = { open: (_, stored) => stored, seal: (_, json) => json }

/** True when the store has its own lease locks (the four lock operations). */
export function hasLocks(store: SessionStore): boolean {
  return typeof store.lock === 'function'
}

/**
 * Checks the store against the contract (ConfigurationError naming what is missing) and fills
 * in what it leaves out: atomic changes by compare-and-set, `count` by scanning, and locks
 * that refuse with ConfigurationError when used. A complete store is returned as it is.
 */
export function withFallbacks(store: SessionStore): CompleteStore {
  const missing = REQUIRED_OPERATIONS.filter((op) => typeof store[op] !== 'function')
  if (typeof store.close !== 'function') missing.push('close' as never)
  if (missing.length > 0) throw new ConfigurationError(`store ${String(store.kind)}: missing required operation(s) ${missing.join(', ')}`)
  const locks = LOCK_OPERATIONS.filter((op) => typeof store[op] === 'function')
  if (locks.length > 0 && locks.length < LOCK_OPERATIONS.length) {
    throw new ConfigurationError(`store ${store.kind}: implement all of ${LOCK_OPERATIONS.join(', ')} or none (has ${locks.join(', ')})`)
  }
  if (store.atomic === true && locks.length > 0 && typeof store.count === 'function') return store as CompleteStore
  const noLocks = () => Promise.reject(new ConfigurationError(`the ${store.kind} store has no locks (lock, extendLock, unlock, raiseFence): withLock needs a store that implements them`))
  const complete = Object.create(store) as Record<string, unknown>
  const own = (name: string, value: unknown) => Object.defineProperty(complete, name, { value, writable: true, configurable: true, enumerable: true })
  own('atomic', true)
  if (store.atomic !== true) {
    own('apply', (id: string, delta: SessionDelta, conditions?: ApplyConditions) =>
      hasAtomicChange(delta) ? applyByCompareAndSet(store, id, delta, conditions) : store.apply(id, delta, conditions),
    )
  }
  if (typeof store.count !== 'function') own('count', (now: number) => countByScanning(store, now))
  if (locks.length === 0) for (const op of LOCK_OPERATIONS) own(op, noLocks)
  if (store.watch) own('watch', store.watch.bind(store))
  own('close', store.close.bind(store))
  return complete as unknown as CompleteStore
}

function hasAtomicChange(delta: SessionDelta): boolean {
  for (const change of delta.attributes.values()) if (isAtomic(change)) return true
  return false
}

/**
 * Applies a delta holding atomic changes on a store that cannot compute them (or on values
 * it cannot read, sealed by encryption): reads the session, computes each change on the
 * values read, and applies plain `set`s only if the session is still at the version read. A
 * concurrent save means read and compute again (with jittered backoff); a caller's own
 * `expectedVersion` is checked once, never retried. `values` holds the stored form.
 */
export async function applyByCompareAndSet(
  store: Pick<SessionStore, 'load' | 'apply'>,
  id: string,
  delta: SessionDelta,
  conditions: ApplyConditions = {},
  values: ValueTranslation = asStored,
): Promise<ApplyResult> {
  for (let attempt = 0; ; attempt++) {
    const current = await store.load(id, delta.lastAccessedAt)
    if (!current) throw new SessionNotFoundError(id)
    if (conditions.expectedVersion !== undefined && conditions.expectedVersion !== current.version) {
      throw new VersionConflictError(id, conditions.expectedVersion, current.version)
    }
    const attributes = new Map<string, AttributeChange>()
    const computed = new Map<string, string>()
    for (const [name, change] of delta.attributes) {
      if (!isAtomic(change)) {
        attributes.set(name, change)
        continue
      }
      const before = computed.get(name) ?? current.attributes.get(name)
      const json = applyAtomic(name, before === undefined ? undefined : values.open(name, before), change, delta.maxValueBytes)
      const stored = values.seal(name, json)
      computed.set(name, stored)
      attributes.set(name, { op: 'set', value: stored })
    }
    try {
      const applied = await store.apply(id, { ...delta, attributes }, { ...conditions, expectedVersion: current.version })
      return { version: applied.version, values: computed }
    } catch (e) {
      if (!(e instanceof VersionConflictError) || conditions.expectedVersion !== undefined || attempt >= 100) throw e
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)))
    }
  }
}

async function countByScanning(store: SessionStore, now: number): Promise<number> {
  let n = 0
  let cursor: string | null = null
  do {
    const page = await store.scan({ cursor, limit: 500, now })
    n += page.sessions.length
    cursor = page.cursor
  } while (cursor !== null)
  return n
}
