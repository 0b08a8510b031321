/**
 * Adopting sessions made by express-session + connect-redis: a `LegacySessionSource` for
 * `createSessions({ migrateFrom })`. It verifies the old `connect.sid` cookie the way
 * express-session does, reads the old `sess:<id>` record, and deletes it once the manager
 * has stored the new session.
 */
import signature from 'cookie-signature'
import { type Duration, toMs } from '../core/duration.js'
import { type LegacyRefusal, withoutUnsafeKeys } from '../core/adopt.js'
import { ConfigurationError, SessionMeshError, StoreUnavailableError } from '../core/errors.js'
import type { LegacySession, LegacySessionSource } from '../core/legacy.js'
import { type RedisConnection, type RedisTarget, connectRedis } from '../redis/connection.js'

export interface ConnectRedisSessionsOptions<Data extends object = LegacyData> {
  /** The Redis that connect-redis wrote to. A `client` you pass is not closed by `close()`. */
  redis: RedisTarget
  /** express-session's `secret`: every one verifies, as in express-session. */
  secret: string | ReadonlyArray<string>
  /** connect-redis' `prefix`. Default `sess:`. */
  prefix?: string
  /** express-session's cookie `name`. Default `connect.sid`. */
  cookieName?: string
  /** express-session's `cookie.path`, so the old cookie can be cleared. Default `/`. */
  cookiePath?: string
  /**
   * The principal of an old session from its data (e.g. `d => d.user?.name`); anything but a
   * non-empty string means none. Name the data's shape with the type parameter:
   * `connectRedisSessions<{ user?: { name: string } }>(...)`.
   */
  principal?: (data: Data) => string | null | undefined
  /** connect-redis' `serializer` (only `parse` is needed). Default `JSON`. */
  serializer?: { parse(text: string): unknown }
  /** Longest wait for the old Redis (connecting included) before the read fails. Default `2s`. */
  timeout?: Duration
}

/** An old session's data as the application stored it (`cookie` left out), when no type is given. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- as untyped as express-session's req.session: `d => d.user?.name` must type-check
export type LegacyData = { readonly [name: string]: any }

export type ConnectRedisSessions = LegacySessionSource & {
  /** Closes the connection this source opened (not a `client` you passed). */
  close(): Promise<void>
}

/**
 * The old sessions of express-session + connect-redis, for `migrateFrom`.
 *
 * @example
 * const sessions = createSessions({
 *   store: redisStore({ url }),
 *   secret: [process.env.SESSION_SECRET!],
 *   migrateFrom: connectRedisSessions({ redis: { url }, secret: process.env.OLD_SECRET!, principal: (d) => d.user?.name }),
 * })
 */
export function connectRedisSessions<Data extends object = LegacyData>(options: ConnectRedisSessionsOptions<Data>): ConnectRedisSessions {
  const o = checkOptions(options as ConnectRedisSessionsOptions)
  const redis = lazyConnection(o.redis, o.timeoutMs)
  return {
    cookieName: o.cookieName,
    cookiePath: o.cookiePath,
    async load(cookieValue) {
      const sid = unsignCookie(cookieValue, o.secrets)
      if (sid === null) return null
      const text = await redis.run<unknown>('read', o.prefix + sid, ['GET', o.prefix + sid], true)
      if (typeof text !== 'string') return null
      const old = readConnectRedisRecord(text, { serializer: o.serializer, principal: o.principal, now: Date.now() })
      return 'refused' in old ? null : { id: sid, ...old }
    },
    async remove(id) {
      await redis.run('delete', o.prefix + id, ['DEL', o.prefix + id])
    },
    close: () => redis.close(),
  }
}

type Checked = Required<Omit<ConnectRedisSessionsOptions, 'secret' | 'principal' | 'timeout'>> &
  Pick<ConnectRedisSessionsOptions, 'principal'> & { secrets: string[]; timeoutMs: number }

/** Options with defaults filled in; ConfigurationError for ones that cannot work. */
function checkOptions(options: ConnectRedisSessionsOptions): Checked {
  const fail = (message: string) => new ConfigurationError(`connectRedisSessions: ${message}`)
  const target: unknown = options?.redis
  if (typeof target !== 'object' || target === null || !['url', 'client', 'cluster', 'sentinel'].some((k) => k in target)) {
    throw fail('`redis` must be { url } | { client } | { cluster } | { sentinel }')
  }
  const secret: unknown = options.secret
  const secrets: unknown[] = typeof secret === 'string' ? [secret] : Array.isArray(secret) ? (secret as unknown[]).slice() : []
  if (secrets.length === 0 || !secrets.every((s) => typeof s === 'string' && s.length > 0)) throw fail('`secret` must be the old non-empty secret string(s)')
  const prefix = options.prefix ?? 'sess:'
  if (typeof prefix !== 'string') throw fail('`prefix` must be a string')
  const cookieName = options.cookieName ?? 'connect.sid'
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(cookieName)) throw fail(`cookieName "${String(cookieName)}" is not a valid cookie name`)
  const cookiePath = options.cookiePath ?? '/'
  if (typeof cookiePath !== 'string' || !cookiePath.startsWith('/')) throw fail('`cookiePath` must start with /')
  if (options.principal !== undefined && typeof options.principal !== 'function') throw fail('`principal` must be a function')
  const serializer = options.serializer ?? JSON
  if (typeof serializer?.parse !== 'function') throw fail('`serializer` must have a parse(text) method')
  return {
    redis: options.redis,
    secrets: secrets as string[],
    prefix,
    cookieName,
    cookiePath,
    principal: options.principal,
    serializer,
    timeoutMs: toMs(options.timeout ?? '2s', 'connectRedisSessions timeout'),
  }
}

/**
 * express-session's cookie: `s:<sid>.<hmac>`. Like express-session, every secret is tried;
 * anything unsigned or not matching any secret is no session (null), never an error.
 */
function unsignCookie(value: string, secrets: ReadonlyArray<string>): string | null {
  if (!value.startsWith('s:')) return null
  for (const secret of secrets) {
    const sid = signature.unsign(value.slice(2), secret)
    if (sid !== false) return sid
  }
  return null
}

/**
 * One connect-redis record (the text under `sess:<id>`) as the data to adopt, or why it is
 * not a session we can trust: `unparsable` (the serializer fails, or nests too deeply to be
 * copied, or it is not an object; nothing is reported, a corrupt record is "no session" like
 * a bad cookie) or `expired` (past the `cookie.expires` express-session gave it).
 * express-session's `cookie` is left out and `__proto__` / `constructor` / `prototype` keys
 * are dropped at every depth before `principal` sees the data. What is left goes to
 * `adoptLegacy` (src/core/adopt.ts), which applies the session's rules. `migrateFrom` and
 * `sessionmesh migrate` both read records with this.
 */
export function readConnectRedisRecord(
  text: string,
  options: { serializer?: { parse(text: string): unknown }; principal?: ((data: LegacyData) => unknown) | undefined; now: number },
): Pick<LegacySession, 'attributes' | 'principal'> | { refused: Extract<LegacyRefusal, 'unparsable' | 'expired'> } {
  let data: unknown
  try {
    data = withoutUnsafeKeys((options.serializer ?? JSON).parse(text))
  } catch {
    return { refused: 'unparsable' }
  }
  if (!isRecord(data)) return { refused: 'unparsable' }
  if (isExpired(data.cookie, options.now)) return { refused: 'expired' }
  // `cookie` is express-session's bookkeeping (expiry, flags), not the application's data.
  // A null-prototype object, like the copies inside it: `principal` finds no inherited names.
  const attributes = Object.create(null) as Record<string, unknown>
  for (const [name, value] of Object.entries(data)) if (name !== 'cookie') attributes[name] = value
  const principal = options.principal?.(attributes)
  return { attributes, principal: typeof principal === 'string' && principal.length > 0 ? principal : null }
}

/** A session's `cookie.expires` lies in the past (or is not a date at all). No `expires`: a browser-session cookie. */
function isExpired(cookie: unknown, now: number): boolean {
  if (!isRecord(cookie) || cookie.expires === null || cookie.expires === undefined) return false
  const at = new Date(cookie.expires as string).getTime()
  return Number.isNaN(at) || at <= now
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * One connection, opened on first use so that creating the source never fails or waits.
 * A failed connect is not kept: the next read tries again. A slow one is (node-redis goes
 * on retrying it), so there is never more than one client. Every Redis failure
 * (and a wait longer than `timeoutMs`: node-redis queues commands while it reconnects, so a
 * down server would otherwise hold the request forever) is a StoreUnavailableError.
 */
function lazyConnection(target: RedisTarget, timeoutMs: number) {
  let pending: Promise<RedisConnection> | null = null
  const connect = () => {
    // Connection errors are not reported here: every read or delete that they break fails
    // with StoreUnavailableError, which the manager reports. The listener keeps them from crashing the process.
    const p = connectRedis(target, () => {}, undefined, 'connectRedisSessions')
    pending = p
    p.catch(() => {
      if (pending === p) pending = null
    })
    return p
  }
  return {
    async run<T>(what: string, key: string, args: string[], readonly = false): Promise<T> {
      try {
        return await withTimeout(
          (pending ?? connect()).then((c) => c.command<T>(key, args, readonly)),
          timeoutMs,
        )
      } catch (e) {
        // Our own errors (a bad `client`, node-redis not installed) are not an outage.
        if (e instanceof SessionMeshError) throw e
        throw new StoreUnavailableError(`connect-redis sessions: ${what} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
      }
    },
    async close(): Promise<void> {
      const p = pending
      pending = null
      // A connect that never succeeds (server gone) must not hold `close` forever either.
      if (p) await (await withTimeout(p, timeoutMs).catch(() => null))?.close()
    },
  }
}

/** `p`, or a rejection after `ms`; `p` settling later is handled (never an unhandled rejection). */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
  })
  p.catch(() => {})
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}
