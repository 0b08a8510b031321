import type { Histogram } from 'prom-client'
import { SessionMeshError } from '../core/errors.js'
import { STORE_OPERATIONS, type StoreOperation, wrapStore } from '../core/operations.js'
import type { SessionStore } from '../core/store.js'

/** The store operations that are timed: every operation of the contract but `close`. */
export const OPERATIONS = STORE_OPERATIONS
export type Operation = StoreOperation

/**
 * The `outcome` label of a failed operation: our error's code in lower case
 * (`session_not_found`, `version_conflict`, `store_unavailable`, ...), `error` for anything
 * else. A small fixed set, so label cardinality stays bounded.
 */
export function outcomeOf(e: unknown): string {
  return e instanceof SessionMeshError ? e.code.toLowerCase() : 'error'
}

/**
 * `store`, with every operation it has timed into `histogram` (labels store, operation,
 * outcome). Extra members (the Redis store's `connection`) stay reachable.
 */
export function instrumentStore<S extends SessionStore>(store: S, histogram: Histogram<'store' | 'operation' | 'outcome'>): S {
  return wrapStore(store, (operation, call) => {
    const end = histogram.startTimer({ store: store.kind, operation })
    let pending: Promise<unknown>
    try {
      pending = call()
    } catch (e) {
      end({ outcome: outcomeOf(e) })
      throw e
    }
    // `.then(ok, fail)` rather than async/await: this sits on every request's path.
    return pending.then(
      (value) => {
        end({ outcome: 'ok' })
        return value
      },
      (e: unknown) => {
        end({ outcome: outcomeOf(e) })
        throw e
      },
    )
  })
}
