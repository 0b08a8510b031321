import type { Histogram } from 'prom-client'
import { SessionMeshError } from '../core/errors.js'
import type { SessionStore } from '../core/store.js'

/** The store methods that are timed: every operation of the contract but `close`. */
export const OPERATIONS = ['load', 'create', 'apply', 'touch', 'destroy', 'changeId', 'findByPrincipal', 'scan', 'sweep', 'count'] as const
export type Operation = (typeof OPERATIONS)[number]

/**
 * The `outcome` label of a failed operation: our error's code in lower case
 * (`session_not_found`, `version_conflict`, `store_unavailable`, ...), `error` for anything
 * else. A small fixed set, so label cardinality stays bounded.
 */
export function outcomeOf(e: unknown): string {
  return e instanceof SessionMeshError ? e.code.toLowerCase() : 'error'
}

/**
 * `store`, with every operation timed into `histogram` (labels store, operation, outcome).
 * The wrapper inherits from `store`, so extra members (the Redis store's `connection`) stay
 * reachable; the contract's methods are its own.
 */
export function instrumentStore<S extends SessionStore>(store: S, histogram: Histogram<'store' | 'operation' | 'outcome'>): S {
  const wrapped = Object.create(store) as S
  const own = wrapped as unknown as Record<Operation, unknown>
  for (const operation of OPERATIONS) {
    // Looked up per call and called on `store`, as the store's own code expects `this` to be.
    const call = (args: unknown[]) => (store as unknown as Record<Operation, (...a: unknown[]) => Promise<unknown>>)[operation](...args)
    own[operation] = (...args: unknown[]) => {
      const end = histogram.startTimer({ store: store.kind, operation })
      let pending: Promise<unknown>
      try {
        pending = call(args)
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
    }
  }
  return wrapped
}
