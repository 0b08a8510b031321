/**
 * Where `durability: 'replicated'` writes run: WAIT blocks the connection it is sent on until
 * the replicas acknowledge or its timeout passes, and counts only that connection's writes, so
 * a write and its WAIT go together on a connection of their own, leased from a node-redis
 * client pool per node (per master on a Cluster), never on the connection every other request
 * shares. A lane that timed out is dropped with its pool, for the same reason as in recycler.ts.
 */
import type { RedisClientOptions, RedisClientPoolType } from 'redis'
import { type AnyClient, loadRedis } from './client.js'

/* eslint-disable-next-line @typescript-eslint/no-explicit-any -- node-redis' generic pool type is too wide to name here */
type AnyPool = RedisClientPoolType<any, any, any, any, any>

export interface WaitLaneOptions {
  /** Most writes waiting at once per node; more wait for a lane at most `acquireTimeoutMs`. */
  size: number
  acquireTimeoutMs: number
  /** The socket timeout of a lane: longer than any WAIT it runs. */
  socketTimeoutMs: number
  onError: (e: Error) => void
  feature: string
}

/** A node lanes go to: its address (the pool's key) and the options of a client to it. */
export interface LaneTarget {
  address: string
  options: RedisClientOptions
}

export interface WaitLanes {
  /** Runs `task` on a lane to `node`. */
  execute<T>(node: LaneTarget, task: (lane: AnyClient) => Promise<T>): Promise<T>
  /** Drops the lanes to `node` (after a timeout); the next write opens new ones. */
  recycle(node: LaneTarget): void
  close(): Promise<void>
}

/** The server a client of the shared connection talks to, as a lane target. */
export function nodeOf(c: AnyClient): LaneTarget {
  const options = (c.options ?? {}) as RedisClientOptions
  const s = (options.socket ?? {}) as { host?: string; port?: number; path?: string }
  return { address: options.url ?? s.path ?? `${s.host ?? 'localhost'}:${s.port ?? 6379}`, options }
}

export function waitLanes(options: WaitLaneOptions): WaitLanes {
  const pools = new Map<string, Promise<AnyPool>>()
  const open = (node: LaneTarget): Promise<AnyPool> => {
    const key = node.address
    let pool = pools.get(key)
    if (!pool) {
      const base = node.options
      const redis = loadRedis(options.feature)
      const created = redis.createClientPool(
        { ...base, disableOfflineQueue: true, pingInterval: undefined, socket: { ...base.socket, socketTimeout: options.socketTimeoutMs } },
        { minimum: 1, maximum: options.size, acquireTimeout: options.acquireTimeoutMs },
      ) as unknown as AnyPool
      created.on('error', options.onError)
      pool = created.connect().then(() => created)
      // A pool that could not connect is forgotten, so the next write tries again.
      pool.catch(() => {
        if (pools.get(key) === pool) pools.delete(key)
        created.destroy()
      })
      pools.set(key, pool)
    }
    return pool
  }
  return {
    async execute(node, task) {
      const pool = await open(node)
      return pool.execute((lane) => task(lane as AnyClient))
    },
    recycle(node) {
      const key = node.address
      const pool = pools.get(key)
      pools.delete(key)
      pool?.then((p) => p.destroy(), () => {})
    },
    async close() {
      const all = [...pools.values()]
      pools.clear()
      await Promise.all(all.map((p) => p.then((pool) => pool.close(), () => {})))
    },
  }
}
