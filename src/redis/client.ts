/**
 * node-redis itself: loading the optional peer dependency, telling its three client kinds
 * apart, and connecting one of ours so that closing can abandon it. Shared by the connection
 * (stores, bus publisher, interop) and the bus' stream readers.
 */
import { createRequire } from 'node:module'
import type * as RedisModule from 'redis'
import type { RedisClientType, RedisClusterType, RedisSentinelType } from 'redis'
import { MissingDependencyError, StoreUnavailableError } from '../core/errors.js'

/* eslint-disable @typescript-eslint/no-explicit-any -- node-redis' generic client types are too wide to name here */
export type AnyClient = RedisClientType<any, any, any, any, any>
export type AnyCluster = RedisClusterType<any, any, any, any, any>
export type AnySentinel = RedisSentinelType<any, any, any, any, any>
/* eslint-enable @typescript-eslint/no-explicit-any */
export type AnyRedis = AnyClient | AnyCluster | AnySentinel

/** Where a connection goes: what `redisStore`, `springSessionStore`, `redisStreamBus` and the interop sources take. */
export type RedisTarget =
  /** `redis://[user:pass@]host:port[/db]` or `rediss://` (TLS). */
  | { url: string }
  /** A client you created (connected or not). sessionmesh does not close it. */
  | { client: AnyRedis }
  /** A Redis Cluster by some of its nodes; the rest are discovered. */
  | { cluster: { rootNodes: Array<{ url: string }>; defaults?: { password?: string; username?: string } } }
  /** A master found through Sentinel. */
  | { sentinel: { name: string; sentinelRootNodes: Array<{ host: string; port: number }>; password?: string } }

/**
 * Loads node-redis lazily: it is an optional peer dependency, needed only by what uses Redis.
 * `feature` names that in the MissingDependencyError (`redisStore`, `redisStreamBus`, ...).
 */
export function loadRedis(feature: string): typeof RedisModule {
  try {
    return createRequire(import.meta.url)('redis') as typeof RedisModule
  } catch (e) {
    const code = (e as { code?: unknown } | null)?.code
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') throw new MissingDependencyError('redis', feature, { cause: e })
    throw e
  }
}

/** node-redis' backoff, at most 1 s between attempts. */
export const reconnectStrategy = (retries: number) => Math.min(50 * 2 ** Math.min(retries, 5), 1000)

/** Which of node-redis' kinds a client someone passed in is, or null if it is none of them. */
export function kindOf(client: unknown): 'cluster' | 'sentinel' | 'client' | null {
  const c = client as Record<string, unknown> | null
  if (!c || typeof c !== 'object' || typeof c.sendCommand !== 'function') return null
  if ('masters' in c && 'nodeClient' in c) return 'cluster'
  if ('getMasterNode' in c && 'use' in c) return 'sentinel'
  return 'client'
}

export type Connectable = { on(e: 'error', l: (e: Error) => void): unknown; connect(): Promise<unknown>; destroy(): unknown }

/**
 * Connects a client we made, reporting its errors to `onError` (node-redis reconnects by
 * itself and reports the errors between attempts). The `signal` abandons a connection still
 * being made: node-redis retries a refused connect forever, so closing must not wait for it.
 */
export async function connectOwn<C extends Connectable>(client: C, onError: (e: Error) => void, signal?: AbortSignal): Promise<C> {
  client.on('error', onError)
  const abort = () => void client.destroy()
  signal?.addEventListener('abort', abort, { once: true })
  try {
    await client.connect()
  } finally {
    signal?.removeEventListener('abort', abort)
  }
  if (signal?.aborted) throw new StoreUnavailableError('redis: closed while connecting')
  return client
}
