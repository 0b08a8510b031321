/**
 * Stores for failure and timing tests: each wraps a real memory store.
 */
import { setTimeout as delay } from 'node:timers/promises'
import type { SessionStore, StoreOperation } from '../../src/index.js'
import { memoryStore, wrapStore } from '../../src/index.js'

/** A store whose every method rejects while `down` is true (an unreachable database). */
export function flakyStore(inner: SessionStore = memoryStore()): SessionStore & { down: boolean } {
  const store: SessionStore & { down: boolean } = Object.assign(
    wrapStore(inner, (_operation, call) => (store.down ? Promise.reject(new Error('connect ECONNREFUSED 10.0.0.9:5432')) : call())),
    { kind: 'flaky', down: false },
  )
  return store
}

const WRITES = new Set<StoreOperation>(['create', 'apply', 'changeId', 'destroy', 'touch'])

/**
 * A store whose writes take `ms` to land (a remote round-trip): a response sent before
 * the save completed would let the next request read stale data.
 */
export function slowStore(ms: number, inner: SessionStore = memoryStore()): SessionStore {
  return Object.assign(
    wrapStore(inner, async (operation, call) => {
      if (WRITES.has(operation)) await delay(ms)
      return call()
    }),
    { kind: 'slow' },
  )
}
