import { createRequire } from 'node:module'
import type * as PromClient from 'prom-client'
import { MissingDependencyError } from '../core/errors.js'

/** The prom-client module, as `import * as client from 'prom-client'` gives it. */
export type PromClientModule = typeof PromClient

/**
 * Loads prom-client on first use: it is an optional peer dependency, so importing
 * `sessionmesh/metrics` must not fail where it is not installed until metrics are made.
 * `name` is for tests (a package that is surely missing).
 *
 * @example
 * const client = loadPromClient() // MissingDependencyError when prom-client is not installed
 */
export function loadPromClient(name = 'prom-client'): PromClientModule {
  try {
    return createRequire(import.meta.url)(name) as PromClientModule
  } catch (e) {
    const code = (e as { code?: unknown } | null)?.code
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
      throw new MissingDependencyError(name, 'sessionMetrics', { cause: e })
    }
    throw e
  }
}
