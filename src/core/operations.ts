import type { SessionStore } from './store.js'

type AsyncMembers<T> = {
  [K in keyof T]-?: NonNullable<T[K]> extends (...args: never[]) => Promise<unknown> ? K : never
}[keyof T]

/** Every asynchronous operation of the store contract but `close`: what wrappers time, guard and forward. */
export type StoreOperation = Exclude<AsyncMembers<SessionStore>, 'close'>

/**
 * Whether each operation is required. `satisfies` makes this the one list that cannot drift:
 * an operation added to `SessionStore` and not named here fails to compile.
 */
const REQUIRED = {
  load: true,
  create: true,
  apply: true,
  destroy: true,
  changeId: true,
  touch: true,
  findByPrincipal: true,
  scan: true,
  sweep: true,
  count: false,
  lock: false,
  extendLock: false,
  unlock: false,
  raiseFence: false,
} as const satisfies Record<StoreOperation, boolean>

/** The contract's operations, required ones first. */
export const STORE_OPERATIONS = Object.keys(REQUIRED) as readonly StoreOperation[]

/** The operations every store must have. */
export const REQUIRED_OPERATIONS = STORE_OPERATIONS.filter((op) => REQUIRED[op])

/** The lease-lock operations: a store has all of them or none. */
export const LOCK_OPERATIONS = ['lock', 'extendLock', 'unlock', 'raiseFence'] as const satisfies readonly StoreOperation[]

/** Runs one store call (`call`, made with `args`) for `operation`; returns what it returns (or a promise that rejects as it should). */
export type OperationHook = (operation: StoreOperation, call: () => Promise<unknown>, args: readonly unknown[]) => Promise<unknown>

/**
 * `store` with every operation it has passed through `around` (metrics, error mapping,
 * lazy connection). Optional operations the store lacks stay absent; `watch` and `close` are
 * forwarded; other members (a Redis store's `connection`) stay reachable through the prototype.
 *
 * @example
 * const timed = wrapStore(store, (operation, call) => {
 *   const started = performance.now()
 *   return call().finally(() => record(operation, performance.now() - started))
 * })
 */
export function wrapStore<S extends SessionStore>(store: S, around: OperationHook): S {
  const wrapped = Object.create(store) as S
  const own = (name: string, value: unknown) => Object.defineProperty(wrapped, name, { value, writable: true, configurable: true, enumerable: true })
  for (const operation of STORE_OPERATIONS) {
    if (typeof store[operation] !== 'function') continue
    const call = (args: unknown[]) => (store[operation] as (this: S, ...a: unknown[]) => Promise<unknown>).apply(store, args)
    own(operation, (...args: unknown[]) => around(operation, () => call(args), args))
  }
  // Bound: a class-based store's own fields are reachable only with itself as `this`.
  if (store.watch) own('watch', store.watch.bind(store))
  own('close', store.close.bind(store))
  return wrapped
}
