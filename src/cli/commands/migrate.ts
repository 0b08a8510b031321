/**
 * `sessionmesh migrate`: the offline, bulk counterpart of `migrateFrom: connectRedisSessions()`.
 * Where adoption copies one old express-session + connect-redis record when its browser
 * next calls, this copies every live record now and, unlike adoption, under the SAME id, so
 * that the id in the browser's old cookie names the new session. See docs/CLI.md for when
 * to use which. What is copied is decided by the very code adoption runs: a record is read
 * by `readConnectRedisRecord` (src/interop/connect-redis.ts) and put into a session by
 * `adoptLegacy` (src/core/adopt.ts), under the session's own rules (docs/MIGRATION.md).
 */
import { adoptLegacy, type LegacyRefusal } from '../../core/adopt.js'
import { encryptedCodec } from '../../core/codec.js'
import { redactId, SessionExistsError, StoreUnavailableError } from '../../core/errors.js'
import { isSessionId } from '../../core/ids.js'
import { createSessions } from '../../core/manager.js'
import type { Session } from '../../core/session.js'
import type { SessionStore } from '../../core/store.js'
import type { SessionTokens } from '../../core/tokens.js'
import { readConnectRedisRecord } from '../../interop/connect-redis.js'
import { connectRedis, type RedisConnection } from '../../redis/connection.js'
import { CliUsageError } from '../errors.js'
import { emit } from '../output.js'
import { startProgress } from '../progress.js'
import { durationOption, type GlobalOptions, intOption, safeUrl, storeSpec, withStore } from '../store.js'
import { keysFromEnv } from './show.js'

export interface MigrateOptions {
  from?: string
  fromPrefix: string
  principalPath?: string
  idleTimeout: string
  absoluteTimeout: string
  maxSize: string
  keys?: string
  deleteSource?: boolean
  dryRun?: boolean
  batch: string
}

/**
 * Why a record was not copied: the cases adoption refuses (`LegacyRefusal`, docs/MIGRATION.md),
 * plus ids our format cannot hold and keys gone before the read. A record counts once, under
 * the first that applies in this order: gone, unparsable, expired, empty, invalid, tooLarge,
 * incompatibleId.
 */
export interface SkipCounts extends Record<LegacyRefusal, number> {
  /** `cookie.expires` has passed. */
  expired: number
  /** Not JSON, not an object, or nested too deeply to be copied. */
  unparsable: number
  /** Nothing but express-session's `cookie` (and `__proto__`-like keys, which are dropped). */
  empty: number
  /** Data a session refuses: an attribute name empty or over 256 characters, a principal over 256 characters. */
  invalid: number
  /** Over `--max-size` (names plus stored values, sealed if `--keys`), as the manager would refuse it. */
  tooLarge: number
  /** The old id is not a sessionmesh id (a custom `genid`): left for `migrateFrom` to adopt. */
  incompatibleId: number
  /** Deleted (or expired by TTL) between the key scan and the read. */
  gone: number
}

/** What `migrate --json` prints. */
export interface MigrateReport {
  dryRun: boolean
  source: string
  target: string
  scanned: number
  /** Copied now (with --dry-run: would be copied). */
  migrated: number
  /** A session with that id is already in the target (an earlier run): left as it is. */
  alreadyMigrated: number
  /** Old records deleted after their copy was stored (--delete-source). */
  deletedSource: number
  skipped: SkipCounts
  /** A few redacted ids of records skipped for their id format, to look into. */
  incompatibleIds: string[]
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The value at a dot path (`user.name`), for `--principal-path`; own properties only. */
function atPath(data: Record<string, unknown>, path: string): unknown {
  let v: unknown = data
  for (const part of path.split('.')) v = isRecord(v) && Object.hasOwn(v, part) ? v[part] : undefined
  return v
}

/** Glob characters in a SCAN MATCH pattern, escaped so the prefix is matched literally. */
const globEscape = (s: string) => s.replace(/[*?[\]\\]/g, '\\$&')

/** Connects to the old Redis, or StoreUnavailableError after `timeoutMs` (node-redis would retry forever). */
async function connectSource(url: string, timeoutMs: number): Promise<RedisConnection> {
  const aborter = new AbortController()
  let timer: NodeJS.Timeout | undefined
  const connecting = connectRedis({ url }, () => {}, aborter.signal)
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      aborter.abort()
      reject(new Error(`no connection within ${timeoutMs} ms`))
    }, timeoutMs)
  })
  connecting.catch(() => {})
  try {
    return await Promise.race([connecting, timeout])
  } catch (e) {
    throw new StoreUnavailableError(`cannot reach the old Redis at ${safeUrl(url)}: ${(e as Error).message}`, { cause: e })
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Copies express-session + connect-redis sessions into the selected store.
 *
 * @example
 * // sessionmesh migrate --from redis://old:6379 --store redis://new:6379 --principal-path user.name --dry-run
 * await migrate({ from: 'redis://old:6379', fromPrefix: 'sess:', idleTimeout: '30m', absoluteTimeout: '12h', maxSize: '65536', batch: '200', dryRun: true }, global)
 */
export async function migrate(options: MigrateOptions, global: GlobalOptions): Promise<void> {
  const target = storeSpec(global)
  const from = options.from ?? (target !== undefined && /^rediss?:\/\//i.test(target) ? target : undefined)
  if (from === undefined) throw new CliUsageError('migrate: give --from <redis://old-redis> (the Redis connect-redis wrote to)')
  if (!/^rediss?:\/\//i.test(from)) throw new CliUsageError('migrate: --from must be a redis:// or rediss:// URL')
  const idleTimeoutMs = durationOption(options.idleTimeout, '--idle-timeout')
  const absoluteTimeoutMs = durationOption(options.absoluteTimeout, '--absolute-timeout')
  const maxSize = intOption(options.maxSize, '--max-size', 1)
  const batch = intOption(options.batch, '--batch', 1)
  const keys = options.keys !== undefined ? keysFromEnv(options.keys) : undefined
  if (keys) encryptedCodec(keys) // a key that cannot work fails here, before any store is opened
  const principalPath = options.principalPath
  const principal = principalPath !== undefined ? (data: Record<string, unknown>) => atPath(data, principalPath) : undefined
  const dryRun = options.dryRun === true
  const timeoutMs = durationOption(global.timeout, '--timeout')

  await withStore(
    global,
    async ({ store, label }) => {
      const newSession = appSessions(store, { maxSize, idleTimeoutMs, absoluteTimeoutMs, keys })
      const source = await connectSource(from, timeoutMs)
      try {
        const keys = await scanKeys(source, options.fromPrefix)
        const report: MigrateReport = {
          dryRun,
          source: `${safeUrl(from)} ${options.fromPrefix}*`,
          target: label,
          scanned: keys.length,
          migrated: 0,
          alreadyMigrated: 0,
          deletedSource: 0,
          skipped: { expired: 0, unparsable: 0, empty: 0, invalid: 0, tooLarge: 0, incompatibleId: 0, gone: 0 },
          incompatibleIds: [],
        }
        const progress = startProgress(dryRun ? 'checking' : 'migrating', keys.length, { enabled: global.json !== true && global.progress })
        try {
          for (let i = 0; i < keys.length; i += batch) {
            const chunk = keys.slice(i, i + batch)
            // node-redis pipelines commands issued in the same tick: one round trip per batch.
            const texts = await Promise.all(chunk.map((k) => source.command<string | null>(k, ['GET', k], true)))
            const now = Date.now()
            const plan: Plan = { newSession, principal, now }
            await Promise.all(
              chunk.map(async (key, j) => {
                const id = key.slice(options.fromPrefix.length)
                const outcome = toSession(id, texts[j] ?? null, plan)
                if (typeof outcome === 'string') {
                  report.skipped[outcome]++
                  if (outcome === 'incompatibleId' && report.incompatibleIds.length < 10) report.incompatibleIds.push(redactId(id))
                  return
                }
                const copied = await copy(store, outcome, dryRun, now)
                if (copied === 'created') report.migrated++
                else report.alreadyMigrated++
                // Only once the target holds the session: a failed copy leaves the old record for adoption.
                if (options.deleteSource && !dryRun && (await source.command<number>(key, ['DEL', key])) === 1) report.deletedSource++
              }),
            )
            progress.increment(chunk.length)
          }
        } finally {
          progress.stop()
        }
        emit(global.json === true, report, () => humanReport(report))
      } finally {
        await source.close()
      }
    },
    { create: true },
  )
}

/** Every key under the prefix (SCAN, so the old Redis is never blocked by KEYS). */
async function scanKeys(source: RedisConnection, prefix: string): Promise<string[]> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, found] = await source.command<[string, string[]]>(undefined, ['SCAN', cursor, 'MATCH', `${globEscape(prefix)}*`, 'COUNT', '1000'], true)
    keys.push(...found)
    cursor = String(next)
  } while (cursor !== '0')
  // SCAN may return a key twice; sorted so runs and reports are reproducible.
  return [...new Set(keys)].sort()
}

/**
 * Blank sessions with a given id, made by a manager configured as the app is (`--max-size`,
 * `--idle-timeout`, `--absolute-timeout`, `--keys`), so that a copy is a session that app
 * would have made: the same codec, size limit and timeouts as adoption applies. `save()`
 * creates one in `store` (SessionExistsError when the id is taken). Nothing else of the
 * manager runs: no sweeper, no cache, no principal limit, no events anyone hears. It is not
 * closed (that would close `store`, which `withStore` closes).
 */
function appSessions(
  store: SessionStore,
  rules: { maxSize: number; idleTimeoutMs: number; absoluteTimeoutMs: number; keys: string[] | undefined },
): (id: string) => Session {
  let next = ''
  // The id is the old one, not a new random one: the only thing that differs from adoption.
  const tokens: SessionTokens = { newId: () => next, isId: isSessionId, issue: (id) => id, read: () => null }
  const app = createSessions({
    store,
    tokens,
    maxSize: rules.maxSize,
    idleTimeout: rules.idleTimeoutMs,
    absoluteTimeout: rules.absoluteTimeoutMs,
    ...(rules.keys ? { encryption: { keys: rules.keys } } : {}),
    sweepInterval: false,
  })
  return (id) => {
    next = id
    return app.newBlankSession()
  }
}

interface Plan {
  /** A blank session with this id under the app's rules. */
  newSession: (id: string) => Session
  principal: ((data: Record<string, unknown>) => unknown) | undefined
  now: number
}

/**
 * One old record as a new session under the same id, unsaved, or why it is skipped. The
 * record is read and adopted exactly as `migrateFrom` reads and adopts it; only `gone` and
 * `incompatibleId` are the CLI's own.
 */
function toSession(id: string, text: string | null, p: Plan): Session | keyof SkipCounts {
  if (text === null) return 'gone'
  const old = readConnectRedisRecord(text, { principal: p.principal, now: p.now })
  if ('refused' in old) return old.refused
  // As adoption does: a new session at this moment, under the app's timeouts.
  const adopted = adoptLegacy(old, p.newSession(id))
  if ('refused' in adopted) return adopted.refused
  // express-session's default ids (uid-safe, 24 bytes) are 32 base64url characters: exactly ours.
  if (!isSessionId(id)) return 'incompatibleId'
  return adopted.session
}

/** Creates the session unless one with that id exists (an earlier run's copy, which may have been used since: never overwritten). */
async function copy(store: SessionStore, session: Session, dryRun: boolean, now: number): Promise<'created' | 'exists'> {
  if (dryRun) return (await store.load(session.id, now)) ? 'exists' : 'created'
  try {
    await session.save()
    return 'created'
  } catch (e) {
    if (e instanceof SessionExistsError) return 'exists'
    throw e
  }
}

function humanReport(r: MigrateReport): string[] {
  const s = r.skipped
  const lines = [
    `${r.dryRun ? 'dry run: ' : ''}${r.scanned} old session(s) under ${r.source} -> ${r.target}`,
    `  ${r.dryRun ? 'would migrate' : 'migrated'}   ${r.migrated}`,
    `  already there   ${r.alreadyMigrated}`,
    `  skipped         ${s.expired} expired, ${s.empty} empty, ${s.unparsable} unparsable, ${s.invalid} invalid, ${s.tooLarge} too large, ${s.incompatibleId} incompatible id, ${s.gone} gone`,
  ]
  if (r.deletedSource > 0) lines.push(`  deleted from the old Redis: ${r.deletedSource}`)
  if (s.incompatibleId > 0) {
    lines.push(
      `${s.incompatibleId} session id(s) are not in sessionmesh's format (32 characters of A-Z a-z 0-9 _ -; e.g. ${r.incompatibleIds.join(', ')}),`,
      'probably from a custom express-session genid. They were not copied: keep migrateFrom: connectRedisSessions(...) so they are adopted on first access.',
    )
  }
  return lines
}
