/**
 * A store's connection: made in the background from the store's creation, so creating a
 * store never fails or waits; each call waits for it at most `connectTimeoutMs`. A missing
 * `redis` package, a bad `client`, or a Redis that does not answer in time fail the call
 * (MissingDependencyError, ConfigurationError, StoreUnavailableError), never the creation.
 */
import { StoreUnavailableError } from '../core/errors.js'
import type { RedisTarget } from './client.js'
import { type ConnectTimeouts, connectRedis, type RedisConnection } from './connection.js'
import { unavailable } from './errors.js'

export interface StoreConnectionOptions {
  /** Longest wait for the first connection before a call fails with StoreUnavailableError. */
  connectTimeoutMs: number
  /** Connection errors between reconnects. */
  onError: (error: Error) => void
  /** The factory, for messages: `redisStore`, `springSessionStore`. */
  feature: string
  /** The command timeout and WAIT lanes (connection.ts); defaults there. */
  timeouts?: ConnectTimeouts
}

export interface StoreConnection {
  /** The connection, waiting for the first one if need be. */
  get(): Promise<RedisConnection>
  /** The connection if it is made, for what must decide without waiting (null before and after). */
  readonly current: RedisConnection | null
  /** Closes it, or abandons it if it is still being made. */
  close(): Promise<void>
}

export function storeConnection(target: RedisTarget, options: StoreConnectionOptions): StoreConnection {
  const { connectTimeoutMs, feature } = options
  let connection: RedisConnection | null = null
  let closed = false
  const aborter = new AbortController()
  const connecting = connectRedis(target, options.onError, aborter.signal, feature, options.timeouts).then((c) => (connection = c))
  connecting.catch(() => {}) // reported to each caller of get()
  return {
    get current() {
      return connection
    },
    async get() {
      if (connection) return connection
      if (closed) throw new StoreUnavailableError(`${feature}: closed`)
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new StoreUnavailableError(`${feature}: no connection within ${connectTimeoutMs} ms`)), connectTimeoutMs)
      })
      try {
        return await Promise.race([connecting, timeout])
      } catch (e) {
        throw unavailable(e, 'cannot connect')
      } finally {
        clearTimeout(timer)
      }
    },
    async close() {
      closed = true
      if (!connection) aborter.abort()
      const c = connection ?? (await connecting.catch(() => null))
      connection = null
      await c?.close()
    },
  }
}
