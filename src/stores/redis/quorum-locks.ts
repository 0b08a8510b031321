import { type Duration, toMs } from '../../core/duration.js'
import { ConfigurationError } from '../../core/errors.js'
import type { SessionLockProvider, SessionLockStrategy } from '../../core/lock.js'
import { type CallOf, connectRedis, type LuaScript, type RedisConnection, type RedisTarget } from '../../redis/index.js'
import { EXTEND_LEASE, RELEASE_LEASE, TAKE_LEASE } from './scripts.js'

export interface QuorumLocksOptions {
  /** Independent Redis masters (not replicas of each other), ideally 3 or 5. */
  masters: RedisTarget[]
  /** Clock drift allowed between servers, as a share of the lease. Default 0.01 (Redlock's). */
  driftFactor?: number
  /** Longest wait for one master's answer before counting it as a no. Default 50 ms. */
  masterTimeoutMs?: number
  /** Prefix of the lease keys. Default `sessionmesh:qlock:`. */
  prefix?: string
  /**
   * Longest wait for any reply on a master's connection before that connection is dropped and
   * made again (a vote still counts a master as a no after `masterTimeoutMs`). Default `'2s'`.
   */
  commandTimeout?: Duration
  /** Connection errors (masters down); default ignored. */
  onError?: (error: Error) => void
}

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
  const commandTimeoutMs = toMs(options.commandTimeout ?? '2s', 'quorumLocks: commandTimeout')

  return (store, now) => {
    const abort = new AbortController()
    // Connected once, lazily; a master that is down is retried by its client in the background.
    let connections: Array<Promise<RedisConnection>> | null = null
    const connect = () =>
      (connections ??= masters.map((m) => {
        const c = connectRedis(m, onError, abort.signal, 'quorumLocks', { commandTimeoutMs })
        c.catch(onError)
        return c
      }))
    /** How many masters said yes in time. */
    const vote = async <S extends LuaScript<readonly ['lease'], readonly string[], boolean>>(script: S, call: CallOf<S>): Promise<number> => {
      const answers = await Promise.all(
        connect().map(async (c) => {
          let timer: NodeJS.Timeout | undefined
          const late = new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(false), timeoutMs)
          })
          const answer = c.then((conn) => conn.run(script, call)).then((yes) => yes === true, () => false)
          try {
            return await Promise.race([answer, late])
          } finally {
            clearTimeout(timer)
          }
        }),
      )
      return answers.filter((yes) => yes).length
    }
    const validFor = (ttlMs: number, started: number) => ttlMs - (performance.now() - started) - (ttlMs * drift + 2)

    const provider: SessionLockProvider = {
      async acquire(id, owner, ttlMs) {
        const lease = prefix + id
        const started = performance.now()
        const yes = await vote(TAKE_LEASE, { keys: { lease }, args: { owner, ttlMs: Math.ceil(ttlMs) } })
        if (yes < quorum || validFor(ttlMs, started) <= 0) {
          await vote(RELEASE_LEASE, { keys: { lease }, args: { owner } })
          return null
        }
        try {
          return await store.raiseFence(id, now())
        } catch (e) {
          await vote(RELEASE_LEASE, { keys: { lease }, args: { owner } })
          throw e
        }
      },
      async extend(id, owner, ttlMs) {
        const started = performance.now()
        const yes = await vote(EXTEND_LEASE, { keys: { lease: prefix + id }, args: { owner, ttlMs: Math.ceil(ttlMs) } })
        return yes >= quorum && validFor(ttlMs, started) > 0
      },
      async release(id, owner) {
        await vote(RELEASE_LEASE, { keys: { lease: prefix + id }, args: { owner } })
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
