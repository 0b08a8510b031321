/**
 * A dedicated connection for a subscription's blocking XREAD. node-redis 5+ multiplexes one
 * connection, so a blocked XREAD would hold up every command queued behind it: a reader gets
 * its own client of the same kind as the target (node-redis' documented answer since the v4
 * "isolated" pool was dropped), named so an operator can find it in CLIENT LIST.
 */
import { createRequire } from 'node:module'
import type * as RedisModule from 'redis'
import type { RedisClientType, RedisClusterType, RedisSentinelType } from 'redis'
import { ConfigurationError, MissingDependencyError } from '../../core/errors.js'
import type { RedisTarget } from '../../stores/redis/connection.js'

/* eslint-disable @typescript-eslint/no-explicit-any -- node-redis' generic client types are too wide to name here */
type AnyClient = RedisClientType<any, any, any, any, any>
type AnyCluster = RedisClusterType<any, any, any, any, any>
type AnySentinel = RedisSentinelType<any, any, any, any, any>
/* eslint-enable @typescript-eslint/no-explicit-any */

/** Sends commands on the reader's own connection(s), routed to the node owning `key`. */
export interface StreamReader {
  send<T>(key: string, args: string[]): Promise<T>
  /** Drops the connection at once (rejecting a pending XREAD) and stops reconnecting. */
  destroy(): void
}

/** Loads node-redis lazily: an optional peer dependency, needed only by the Redis bus. */
export function loadRedis(feature: string): typeof RedisModule {
  try {
    return createRequire(import.meta.url)('redis') as typeof RedisModule
  } catch (e) {
    const code = (e as { code?: unknown } | null)?.code
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') throw new MissingDependencyError('redis', feature, { cause: e })
    throw e
  }
}

type Made = { on(e: 'error', l: (e: Error) => void): unknown; connect(): Promise<unknown>; destroy(): unknown }

/**
 * Opens a reader for `target`. A client you passed in is duplicated (same options, its own
 * socket), never used for blocking. `socketTimeoutMs` drops a connection that has been
 * silent longer than any BLOCK could explain (a half-open TCP connection after a network
 * cut), so the reader notices and reconnects instead of waiting forever.
 */
export async function openReader(
  target: RedisTarget,
  name: string,
  socketTimeoutMs: number,
  onError: (e: Error) => void,
  signal: AbortSignal,
): Promise<StreamReader> {
  const start = async <C extends Made>(c: C): Promise<C> => {
    c.on('error', onError)
    const abort = () => void c.destroy()
    signal.addEventListener('abort', abort, { once: true })
    try {
      await c.connect()
    } finally {
      signal.removeEventListener('abort', abort)
    }
    return c
  }
  const clientReader = (c: AnyClient): StreamReader => ({
    send: <T>(_key: string, args: string[]) => c.sendCommand<T>(args),
    destroy: () => void c.destroy(),
  })
  const clusterReader = (c: AnyCluster): StreamReader => ({
    send: <T>(key: string, args: string[]) => c.sendCommand<T>(key, false, args),
    destroy: () => void c.destroy(),
  })
  const sentinelReader = (c: AnySentinel): StreamReader => ({
    send: <T>(_key: string, args: string[]) => c.sendCommand<T>(false, args),
    destroy: () => void c.destroy(),
  })

  if ('client' in target) {
    const c = target.client as unknown as Record<string, unknown> | null
    if (!c || typeof c.duplicate !== 'function') throw new ConfigurationError('redisStreamBus: `client` must be a node-redis client, cluster or sentinel')
    if ('masters' in c && 'nodeClient' in c) return clusterReader(await start((c as unknown as AnyCluster).duplicate()))
    if ('getMasterNode' in c && 'use' in c) return sentinelReader(await start((c as unknown as AnySentinel).duplicate()))
    return clientReader(await start((c as unknown as AnyClient).duplicate({ name })))
  }
  const redis = loadRedis('redisStreamBus')
  // The offline queue stays on for a reader: a read sent while reconnecting waits for the
  // connection instead of failing, and the loop's back-off covers the rest.
  const reconnectStrategy = (retries: number) => Math.min(50 * 2 ** Math.min(retries, 5), 1000)
  const socket = { reconnectStrategy, connectTimeout: 5_000, socketTimeout: socketTimeoutMs }
  if ('url' in target) {
    return clientReader(await start(redis.createClient({ url: target.url, name, socket }) as unknown as AnyClient))
  }
  if ('cluster' in target) {
    const cluster = redis.createCluster({ rootNodes: target.cluster.rootNodes, defaults: { ...target.cluster.defaults, name, socket } })
    return clusterReader(await start(cluster as unknown as AnyCluster))
  }
  if ('sentinel' in target) {
    const sentinel = redis.createSentinel({
      name: target.sentinel.name,
      sentinelRootNodes: target.sentinel.sentinelRootNodes,
      nodeClientOptions: { name, socket, ...(target.sentinel.password ? { password: target.sentinel.password } : {}) },
    })
    return sentinelReader(await start(sentinel as unknown as AnySentinel))
  }
  throw new ConfigurationError('redisStreamBus: give `url`, `client`, `cluster` or `sentinel`')
}
