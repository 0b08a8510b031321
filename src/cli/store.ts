/**
 * Opening the store a command works on: `--store` (or SESSIONMESH_STORE) is a SQLite file
 * path or a `redis://` / `rediss://` URL. Every failure to reach it is a
 * StoreUnavailableError (exit 2) raised here, before the command starts, so a command never
 * half-runs against a store that is down.
 */
import { existsSync } from 'node:fs'
import { toMs, type Duration } from '../core/duration.js'
import { StoreUnavailableError } from '../core/errors.js'
import type { SessionStore, StoredSession } from '../core/store.js'
import { springSessionStore } from '../interop/index.js'
import { redisStore } from '../stores/redis/index.js'
import { sqliteStore } from '../stores/sqlite/index.js'
import { CliUsageError } from './errors.js'
import type { Progress } from './progress.js'

/** The options every command shares (commander's global options). */
export interface GlobalOptions {
  store?: string
  prefix?: string
  layout?: string
  timeout: string
  json?: boolean
  progress: boolean
}

export interface OpenedStore {
  store: SessionStore
  /** `sqlite:<path>` or the Redis URL without credentials: safe to print. */
  label: string
  close(): Promise<void>
}

const isRedisUrl = (spec: string) => /^rediss?:\/\//i.test(spec)

/** The store spec from `--store` or SESSIONMESH_STORE; undefined when neither is set. */
export function storeSpec(options: GlobalOptions): string | undefined {
  const spec = options.store ?? process.env.SESSIONMESH_STORE
  return spec === undefined || spec === '' ? undefined : spec
}

/** A Redis URL with any user name and password taken out, for messages. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url)
    u.username = ''
    u.password = ''
    return u.toString().replace(/\/$/, '')
  } catch {
    return 'redis://(unparsable URL)'
  }
}

/** A duration option (`5s`, `30m`, `1500` ms) or a usage error naming the flag. */
export function durationOption(value: string, flag: string): number {
  const v: Duration = /^\d+(\.\d+)?$/.test(value) ? Number(value) : (value as Duration)
  try {
    return toMs(v, flag)
  } catch (e) {
    throw new CliUsageError((e as Error).message)
  }
}

/** A whole-number option or a usage error naming the flag. */
export function intOption(value: string, flag: string, min = 0): number {
  const n = Number(value)
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new CliUsageError(`${flag} must be a whole number >= ${min} (got ${JSON.stringify(value)})`)
  }
  return n
}

/**
 * Opens the selected store and checks it answers. `create`: a missing SQLite file may be
 * created (migrate's target); otherwise a missing file is "store unavailable", because
 * better-sqlite3 would silently create an empty one and every query would answer "none".
 *
 * @example
 * const { store, close } = await openStore(opts)
 * try { ... } finally { await close() }
 */
export async function openStore(options: GlobalOptions, { create = false } = {}): Promise<OpenedStore> {
  const spec = storeSpec(options)
  if (spec === undefined) throw new CliUsageError('no store: pass --store <sqlite file | redis://host:port> or set SESSIONMESH_STORE')
  const timeoutMs = durationOption(options.timeout, '--timeout')
  if (isRedisUrl(spec)) {
    const layout = options.layout ?? 'sessionmesh'
    if (layout !== 'sessionmesh' && layout !== 'spring-session') throw new CliUsageError(`--layout must be sessionmesh or spring-session (got ${layout})`)
    const store =
      layout === 'spring-session'
        ? springSessionStore({ url: spec, connectTimeoutMs: timeoutMs, ...(options.prefix !== undefined ? { namespace: options.prefix } : {}) })
        : redisStore({ url: spec, connectTimeoutMs: timeoutMs, ...(options.prefix !== undefined ? { prefix: options.prefix } : {}) })
    const label = safeUrl(spec)
    try {
      // Connect now: "Redis is down" is then one clear message before any work starts.
      await store.connection()
    } catch (e) {
      await store.close().catch(() => {})
      throw new StoreUnavailableError(`cannot reach Redis at ${label}: ${(e as Error).message}`, { cause: e })
    }
    return { store, label, close: () => store.close() }
  }
  if (options.layout !== undefined) throw new CliUsageError('--layout applies to Redis stores only')
  const path = spec.startsWith('sqlite:') ? spec.slice('sqlite:'.length) : spec
  if (!create && !existsSync(path)) throw new StoreUnavailableError(`no SQLite file at ${path}`)
  const store = sqliteStore({ path, ...(options.prefix !== undefined ? { table: options.prefix } : {}) })
  return { store, label: `sqlite:${path}`, close: () => store.close() }
}

/** Opens the store, runs `fn`, and closes the store whatever happens. */
export async function withStore<T>(options: GlobalOptions, fn: (opened: OpenedStore) => Promise<T>, open = { create: false }): Promise<T> {
  const opened = await openStore(options, open)
  try {
    return await fn(opened)
  } finally {
    await opened.close().catch(() => {})
  }
}

/** Pages of live sessions, the whole store, reporting each page to `progress`. */
export async function* scanAll(store: SessionStore, now: number, progress?: Progress, pageSize = 500): AsyncGenerator<StoredSession[]> {
  let cursor: string | null = null
  do {
    const page = await store.scan({ cursor, limit: pageSize, now })
    progress?.increment(page.sessions.length)
    if (page.sessions.length > 0) yield page.sessions
    cursor = page.cursor
  } while (cursor !== null)
}
