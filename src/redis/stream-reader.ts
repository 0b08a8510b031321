/**
 * A dedicated connection for a subscription's blocking XREAD. node-redis 5+ multiplexes one
 * connection, so a blocked XREAD would hold up every command queued behind it: a reader gets
 * its own client of the same kind as the target (node-redis' documented answer since the v4
 * "isolated" pool was dropped), named so an operator can find it in CLIENT LIST.
 */
import { ConfigurationError } from '../core/errors.js'
import { type AnyClient, type AnyCluster, type AnySentinel, type Connectable, connectOwn, kindOf, loadRedis, reconnectStrategy, type RedisTarget } from './client.js'

/** Sends commands on the reader's own connection(s), routed to the node owning `key`. */
export interface StreamReader {
  send<T>(key: string, args: string[]): Promise<T>
  /** Drops the connection at once (rejecting a pending XREAD) and stops reconnecting. */
  destroy(): void
}

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
  const start = <C extends Connectable>(c: C): Promise<C> => connectOwn(c, onError, signal)
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
    const kind = kindOf(target.client)
    if (kind === null || typeof (target.client as { duplicate?: unknown }).duplicate !== 'function') {
      throw new ConfigurationError('redisStreamBus: `client` must be a node-redis client, cluster or sentinel')
    }
    if (kind === 'cluster') return clusterReader(await start((target.client as AnyCluster).duplicate()))
    if (kind === 'sentinel') return sentinelReader(await start((target.client as AnySentinel).duplicate()))
    return clientReader(await start((target.client as AnyClient).duplicate({ name })))
  }
  const redis = loadRedis('redisStreamBus')
  // The offline queue stays on for a reader: a read sent while reconnecting waits for the
  // connection instead of failing, and the loop's back-off covers the rest.
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
