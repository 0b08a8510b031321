/**
 * `sessionmesh/testing`: the store conformance suite every sessionmesh store passes, published
 * so that a store written anywhere (PostgreSQL, DynamoDB, …) can prove itself the same way.
 *
 * @example
 * // my-store.test.mjs, run with `node --test`
 * import { describeStoreConformance } from 'sessionmesh/testing'
 * import { myStore } from './my-store.js'
 * describeStoreConformance('my store', () => myStore({ url: process.env.DB_URL }))
 *
 * @example
 * // with vitest
 * import { describe, it, beforeAll, afterAll } from 'vitest'
 * describeStoreConformance('my store', () => myStore(), { runner: { describe, it, before: beforeAll, after: afterAll } })
 */
import * as nodeTest from 'node:test'
import { type CompleteStore, hasLocks, withFallbacks } from '../core/fallbacks.js'
import type { SessionStore } from '../core/store.js'
import { atomicConformance } from './atomic.js'
import { lockConformance, noLockConformance } from './locks.js'
import { requiredConformance } from './required.js'
import { sizeConformance } from './size.js'
import type { TestRunner } from './runner.js'
import { type InterruptFeed, watchConformance } from './watch.js'

export type { TestContext, TestRunner } from './runner.js'
export type { InterruptFeed } from './watch.js'
export { changesDelta, delta, eventually, newId, sessionRecord } from './records.js'

export interface ConformanceOptions {
  /** The test functions to register with. Default: node:test's. */
  runner?: TestRunner
  /**
   * Breaks the store's change-feed connection (for a Redis store: `CLIENT KILL TYPE pubsub`),
   * so the suite can check the loss is reported. Without it that one test is not registered.
   */
  interruptFeed?: InterruptFeed
}

const nodeRunner: TestRunner = {
  describe: (name, fn) => nodeTest.describe(name, fn),
  it: (name, fn) => nodeTest.it(name, (context) => fn(context)),
  before: (fn) => nodeTest.before(fn),
  after: (fn) => nodeTest.after(fn),
}

/**
 * Registers the conformance suite for one store. `makeStore` runs once, before the tests; the
 * store is closed after them. Required operations are tested as the store has them; optional
 * ones (atomic changes, `count`) through the core's fallbacks where the store leaves them out,
 * exactly as `createSessions` will use them; the lock block runs when the store has locks, the
 * size-limit block when it declares `limitsSize`, the change-feed block when it has `watch`.
 */
export function describeStoreConformance(name: string, makeStore: () => SessionStore | Promise<SessionStore>, options: ConformanceOptions = {}): void {
  const t = options.runner ?? nodeRunner
  t.describe(`store conformance: ${name}`, () => {
    let raw: SessionStore | undefined
    let complete: CompleteStore | undefined
    t.before(async () => {
      raw = await makeStore()
      complete = withFallbacks(raw)
    })
    t.after(async () => {
      await raw?.close()
    })
    const store = () => raw as SessionStore
    const full = () => complete as CompleteStore
    requiredConformance(t, store)
    t.describe('atomic changes and count (the store\'s own, or the core\'s fallbacks)', () => atomicConformance(t, full))
    // Which blocks apply is known only once the store exists: each decides inside its own tests.
    t.describe('locks and fences', () => {
      lockConformance(guarded(t, () => (raw ? hasLocks(raw) : true), 'the store has no lock operations'), full)
      noLockConformance(guarded(t, () => (raw ? !hasLocks(raw) : true), 'the store has lock operations'), full)
    })
    t.describe('session size limit (maxSessionBytes)', () => {
      sizeConformance(guarded(t, () => raw?.limitsSize === true, 'the store does not declare limitsSize'), full)
    })
    t.describe('change feed (watch)', () => {
      watchConformance(guarded(t, () => typeof raw?.watch === 'function', 'the store has no watch'), full, options.interruptFeed)
    })
  })
}

/**
 * `t`, but its hooks do nothing and its tests are skipped (with the reason) unless `applies()`
 * holds when they run: the store is made in a `before` hook, after the tests are registered.
 */
function guarded(t: TestRunner, applies: () => boolean, unless: string): TestRunner {
  return {
    describe: (name, fn) => t.describe(name, fn),
    before: (fn) => t.before(() => (applies() ? fn() : undefined)),
    after: (fn) => t.after(() => (applies() ? fn() : undefined)),
    it: (name, fn) => t.it(name, (context) => (applies() ? fn(context) : context?.skip?.(unless))),
  }
}
