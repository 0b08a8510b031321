/**
 * The four functions the suite registers its tests with. node:test's are the default;
 * vitest's, jest's or mocha's fit as they are (`{ describe, it, before: beforeAll, after: afterAll }`).
 */
export interface TestRunner {
  describe(name: string, fn: () => void): unknown
  /** `fn` gets the runner's test context: node:test's and vitest's have `skip`. */
  it(name: string, fn: (context: TestContext) => Promise<void> | void): unknown
  before(fn: () => Promise<void> | void): unknown
  after(fn: () => Promise<void> | void): unknown
}

/** What the suite uses of a test's context: marking a test that does not apply as skipped. */
export interface TestContext {
  skip?(message?: string): void
}
