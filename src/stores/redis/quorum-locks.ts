import { ConfigurationError } from '../../core/errors.js'
import type { SessionLockProvider, SessionLockStrategy } from '../../core/lock.js'
import { connectRedis, type RedisConnection, type RedisTarget, Script } from './connection.js'

export interface QuorumLocksOptions {
  /** Independent Redis masters (not replicas of each other), ideally 3 or 5. */
  masters: RedisTarget[]
  /** Clock drift allowed between servers, as a share of the lease. Default 0.01 (Redlock's). */
  driftFactor?: number
  /** Longest wait for one master's answer before counting it as a no. Default 50 ms. */
  masterTimeoutMs?: number
  /** Prefix of the lease keys. Default `sessionmesh:qlock:`. */
  prefix?: string
  /** Connection errors (masters down); default ignored. */
  onError?: (error: Error) => void
}

/** KEYS: lease. ARGV: owner, ttl. 1 if this owner holds it now (taken, or renewed by the same owner). */
const TAKE = new Script(
  'quorumTake',
  `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`,
)
/** KEYS: lease. ARGV: owner, ttl. 1 if extended. */
const EXTEND = new Script(
  'quorumExtend',
  `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
`,
)
/** KEYS: lease. ARGV: owner. */
const DROP = new Script(
  'quorumDrop',
  `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`,
)

/**
 * Session locks whose lease lives on a majority of N independent Redis masters (the
 * Redlock algorithm: the lease is held only if a majority said yes within its validity,
 * less an allowance for clock drift), so losing one master of three keeps locks working and
 * safe. The fence still comes from the session's own store (`raiseFence`), where saves are
 * checked, so a holder that paused past its lease is refused there whatever the masters say.
 *
 * @example
 * const sessions = createSessions({
 *   store: redisStore({ url: 'redis://sessions:6379' }),
 *   locks: quorumLocks({ masters: [{ url: 'redis://lock-a:6379' }, { url: 'redis://lock-b:6379' }, { url: 'redis://lock-c:6379' }] }),
 *   secret,
 * })
 */
export function quorumLocks(options: QuorumLocksOptions): SessionLockStrategy {
  const { masters } = options
  if (!Array.isArray(masters) || masters.length < 3) throw new ConfigurationError('quorumLocks: give at least 3 independent masters')
  const drift = options.driftFactor ?? 0.01
  const timeoutMs = options.masterTimeoutMs ?? 50
  const prefix = options.prefix ?? 'sessionmesh:qlock:'
  const quorum = Math.floor(masters.length / 2) + 1
  const onError = options.onError ?? (() => {})

  return (store, now) => {
    const abort = new AbortController()
    // Connected once, lazily; a master that is down is retried by its client in the background.
    let connections: Array<Promise<RedisConnection>> | null = null
    const connect = () =>
      (connections ??= masters.map((m) => {
        const c = connectRedis(m, onError, abort.signal)
        c.catch(onError)
        return c
      }))
    /** How many masters answered 1 in time. */
    const vote = async (script: Script, key: string, args: Array<string | number>): Promise<number> => {
      const answers = await Promise.all(
        connect().map(async (c) => {
          let timer: NodeJS.Timeout | undefined
          const late = new Promise<number>((resolve) => {
            timer = setTimeout(() => resolve(0), timeoutMs)
          })
          const answer = c.then((conn) => conn.eval<number>(script, [key], args)).then(Number, () => 0)
          try {
            return await Promise.race([answer, late])
          } finally {
            clearTimeout(timer)
          }
        }),
      )
      return answers.filter((a) => a === 1).length
    }
    const validFor = (ttlMs: number, started: number) => ttlMs - (performance.now() - started) - (ttlMs * drift + 2)

    const provider: SessionLockProvider = {
      async acquire(id, owner, ttlMs) {
        const key = prefix + id
        const started = performance.now()
        const yes = await vote(TAKE, key, [owner, Math.ceil(ttlMs)])
        if (yes < quorum || validFor(ttlMs, started) <= 0) {
          await vote(DROP, key, [owner])
          return null
        }
        try {
          return await store.raiseFence(id, now())
        } catch (e) {
          await vote(DROP, key, [owner])
          throw e
        }
      },
      async extend(id, owner, ttlMs) {
        const started = performance.now()
        const yes = await vote(EXTEND, prefix + id, [owner, Math.ceil(ttlMs)])
        return yes >= quorum && validFor(ttlMs, started) > 0
      },
      async release(id, owner) {
        await vote(DROP, prefix + id, [owner])
      },
      async close() {
        abort.abort()
        const open = connections ?? []
        connections = null
        await Promise.all(open.map((c) => c.then((conn) => conn.close(), () => {})))
      },
    }
    return provider
  }
}
