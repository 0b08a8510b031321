/**
 * Stores for failure and timing tests: each wraps a real memory store.
 */
import { setTimeout as delay } from 'node:timers/promises'
import type { SessionStore } from '../../src/index.js'
import { memoryStore } from '../../src/index.js'

type StoreMethod = Exclude<keyof SessionStore, 'kind' | 'close'>

/** `inner` with every call going through `around(method, call)`. */
function wrapStore(kind: string, inner: SessionStore, around: <R>(method: StoreMethod, call: () => Promise<R>) => Promise<R>): SessionStore {
  return {
    kind,
    load: (...a) => around('load', () => inner.load(...a)),
    create: (...a) => around('create', () => inner.create(...a)),
    apply: (...a) => around('apply', () => inner.apply(...a)),
    lock: (...a) => around('lock', () => inner.lock(...a)),
    extendLock: (...a) => around('extendLock', () => inner.extendLock(...a)),
    unlock: (...a) => around('unlock', () => inner.unlock(...a)),
    raiseFence: (...a) => around('raiseFence', () => inner.raiseFence(...a)),
    touch: (...a) => around('touch', () => inner.touch(...a)),
    destroy: (...a) => around('destroy', () => inner.destroy(...a)),
    changeId: (...a) => around('changeId', () => inner.changeId(...a)),
    findByPrincipal: (...a) => around('findByPrincipal', () => inner.findByPrincipal(...a)),
    scan: (...a) => around('scan', () => inner.scan(...a)),
    sweep: (...a) => around('sweep', () => inner.sweep(...a)),
    count: (...a) => around('count', () => inner.count(...a)),
    close: () => inner.close(),
  }
}

/** A store whose every method rejects while `down` is true (an unreachable database). */
export function flakyStore(inner: SessionStore = memoryStore()): SessionStore & { down: boolean } {
  const store: SessionStore & { down: boolean } = Object.assign(
    wrapStore('flaky', inner, (_method, call) => (store.down ? Promise.reject(new Error('connect ECONNREFUSED 10.0.0.9:5432')) : call())),
    { down: false },
  )
  return store
}

const WRITES = new Set<StoreMethod>(['create', 'apply', 'changeId', 'destroy', 'touch'])

/**
 * A store whose writes take `ms` to land (a remote round-trip): a response sent before
 * the save completed would let the next request read stale data.
 */
export function slowStore(ms: number, inner: SessionStore = memoryStore()): SessionStore {
  return wrapStore('slow', inner, async (method, call) => {
    if (WRITES.has(method)) await delay(ms)
    return call()
  })
}
