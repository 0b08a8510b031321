/**
 * One small surface over node-redis' three client kinds (a client, a Cluster, a Sentinel),
 * so the store is written once: run a script or a command on the node that owns a key, run
 * something on every master, wait for replication. Scripts go as EVALSHA and fall back to
 * EVAL once per node on NOSCRIPT (which also loads them), so a save stays one round trip.
 */
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import type * as RedisModule from 'redis'
import type { RedisClientType, RedisClusterType, RedisSentinelType } from 'redis'
import {
  AttributeTypeError,
  ConfigurationError,
  MissingDependencyError,
  SessionExistsError,
  SessionMeshError,
  SessionNotFoundError,
  SessionTooLargeError,
  StaleFenceError,
  StoreUnavailableError,
  VersionConflictError,
} from '../../core/errors.js'
import type { ApplyConditions } from '../../core/store.js'

/** A Lua script and its SHA1, computed once. */
export class Script {
  readonly sha: string
  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex')
  }
}

/* eslint-disable @typescript-eslint/no-explicit-any -- node-redis' generic client types are too wide to name here */
type AnyClient = RedisClientType<any, any, any, any, any>
type AnyCluster = RedisClusterType<any, any, any, any, any>
type AnySentinel = RedisSentinelType<any, any, any, any, any>
/* eslint-enable @typescript-eslint/no-explicit-any */

export type RedisTarget =
  /** `redis://[user:pass@]host:port[/db]` or `rediss://` (TLS). */
  | { url: string }
  /** A client you created (connected or not). sessionmesh does not close it. */
  | { client: AnyClient | AnyCluster | AnySentinel }
  /** A Redis Cluster by some of its nodes; the rest are discovered. */
  | { cluster: { rootNodes: Array<{ url: string }>; defaults?: { password?: string; username?: string } } }
  /** A master found through Sentinel. */
  | { sentinel: { name: string; sentinelRootNodes: Array<{ host: string; port: number }>; password?: string } }

/** Runs commands on one node: a standalone server, a Cluster master, or the Sentinel-elected master. */
export interface NodeRunner {
  command: <T>(args: string[]) => Promise<T>
  eval: <T>(script: Script, keys: string[], args: Array<string | number>) => Promise<T>
}

export interface RedisConnection {
  readonly mode: 'standalone' | 'cluster' | 'sentinel'
  /** Run a script on the node owning `keys[0]` (every key must share its slot). */
  eval<T>(script: Script, keys: string[], args: Array<string | number>): Promise<T>
  /** Run a command on the node owning `key` (any node if undefined). */
  command<T>(key: string | undefined, args: string[], readonly?: boolean): Promise<T>
  /**
   * Run a script and then `WAIT replicas timeoutMs` on the same connection (pipelined: one
   * round trip); resolves with the script's reply and how many replicas acknowledged.
   */
  evalAndWait<T>(script: Script, keys: string[], args: Array<string | number>, replicas: number, timeoutMs: number): Promise<[T, number]>
  /** Every master right now (Cluster: each shard's master; otherwise the one server). */
  masters(): Promise<NodeRunner[]>
  /**
   * A new, unconnected client for a node that hears this store's PUBLISHes, for the change
   * feed's subscription: the server itself; on Cluster any master (PUBLISH reaches every
   * node), the `attempt`-th in turn; behind Sentinel the current master (its replicas get
   * the PUBLISHes through replication, so it stays useful after a failover).
   */
  subscriber(attempt: number, name: string): Promise<AnyClient>
  close(): Promise<void>
}

/** Loads node-redis lazily: it is an optional peer dependency, needed only by the Redis store. */
function loadRedis(): typeof RedisModule {
  try {
    return createRequire(import.meta.url)('redis') as typeof RedisModule
  } catch (e) {
    const code = (e as { code?: unknown } | null)?.code
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
      throw new MissingDependencyError('redis', 'redisStore', { cause: e })
    }
    throw e
  }
}

const isNoScript = (e: unknown) => e instanceof Error && e.message.startsWith('NOSCRIPT')

const toArgs = (script: Script, keys: string[], args: Array<string | number>, source: boolean) => [
  source ? 'EVAL' : 'EVALSHA',
  source ? script.source : script.sha,
  String(keys.length),
  ...keys,
  ...args.map(String),
]

/** EVALSHA, then EVAL if this node has not seen the script (after a restart or failover, say). */
async function evalWith<T>(send: (args: string[]) => Promise<T>, script: Script, keys: string[], args: Array<string | number>): Promise<T> {
  try {
    return await send(toArgs(script, keys, args, false))
  } catch (e) {
    if (!isNoScript(e)) throw e
    return send(toArgs(script, keys, args, true))
  }
}

function clientRunner(client: AnyClient): NodeRunner {
  const send = <T>(args: string[]) => client.sendCommand<T>(args)
  return { command: send, eval: <T>(s: Script, k: string[], a: Array<string | number>) => evalWith<T>(send, s, k, a) }
}

/**
 * Connects (or adopts) a client as `target` says; a client we create is ours to close. The
 * `signal` abandons a connection still being made (node-redis retries a refused connect
 * forever), so closing a store whose Redis never answered does not hang.
 */
export async function connectRedis(target: RedisTarget, onError: (e: Error) => void, signal?: AbortSignal): Promise<RedisConnection> {
  if ('client' in target) {
    const c = target.client as unknown as Record<string, unknown> | null
    if (!c || typeof c.sendCommand !== 'function') throw new ConfigurationError('redisStore: `client` must be a node-redis client, cluster or sentinel')
    if ('masters' in c && 'nodeClient' in c) return clusterConnection(c as unknown as AnyCluster, false)
    if ('getMasterNode' in c && 'use' in c) {
      // Your Sentinel's node options are not visible to us: the subscriber connects without credentials.
      const redis = loadRedis()
      return sentinelConnection(c as unknown as AnySentinel, false, (node, name) => redis.createClient({ name, socket: { host: node.host, port: node.port } }))
    }
    return clientConnection(c as unknown as AnyClient, false)
  }
  const redis = loadRedis()
  // node-redis reconnects by itself (errors between attempts are reported, not thrown).
  // Without the offline queue a command during an outage fails at once (a 503 now) instead
  // of waiting, unbounded, for the connection to come back.
  const reconnectStrategy = (retries: number) => Math.min(50 * 2 ** Math.min(retries, 5), 1000)
  const common = { disableOfflineQueue: true, socket: { reconnectStrategy, connectTimeout: 5_000 } }
  const made = async <C extends { on(e: 'error', l: (e: Error) => void): unknown; connect(): Promise<unknown>; destroy(): unknown }>(
    client: C,
  ): Promise<C> => {
    client.on('error', onError)
    const abort = () => void client.destroy()
    signal?.addEventListener('abort', abort, { once: true })
    try {
      await client.connect()
    } finally {
      signal?.removeEventListener('abort', abort)
    }
    if (signal?.aborted) throw new StoreUnavailableError('redis store: closed while connecting')
    return client
  }
  if ('url' in target) {
    const client = redis.createClient({ url: target.url, ...common }) as unknown as AnyClient
    return clientConnection(await made(client), true)
  }
  if ('cluster' in target) {
    const cluster = redis.createCluster({
      rootNodes: target.cluster.rootNodes,
      defaults: { ...target.cluster.defaults, ...common },
    }) as unknown as AnyCluster
    return clusterConnection(await made(cluster), true)
  }
  if ('sentinel' in target) {
    const sentinel = redis.createSentinel({
      name: target.sentinel.name,
      sentinelRootNodes: target.sentinel.sentinelRootNodes,
      nodeClientOptions: { ...common, ...(target.sentinel.password ? { password: target.sentinel.password } : {}) },
    }) as unknown as AnySentinel
    const nodeOptions = { socket: { reconnectStrategy }, ...(target.sentinel.password ? { password: target.sentinel.password } : {}) }
    return sentinelConnection(await made(sentinel), true, (node, name) =>
      redis.createClient({ ...nodeOptions, name, socket: { ...nodeOptions.socket, host: node.host, port: node.port } }),
    )
  }
  throw new ConfigurationError('redisStore: give `url`, `client`, `cluster` or `sentinel`')
}

async function clientConnection(client: AnyClient, owned: boolean): Promise<RedisConnection> {
  if (!client.isOpen) await client.connect()
  const runner = clientRunner(client)
  return {
    mode: 'standalone',
    eval: runner.eval,
    command: (_key, args) => runner.command(args),
    async evalAndWait(script, keys, args, replicas, timeoutMs) {
      // Both in one tick: node-redis writes them together on the one connection, in order.
      const reply = runner.eval(script, keys, args)
      const acked = runner.command<number>(['WAIT', String(replicas), String(timeoutMs)])
      // Both awaited together: a rejected reply must not leave the WAIT rejection unhandled (a crash).
      return (await Promise.all([reply, acked])) as [never, number]
    },
    masters: async () => [runner],
    subscriber: async (_attempt, name) => client.duplicate({ name }) as AnyClient,
    async close() {
      if (owned && client.isOpen) await client.close()
    },
  }
}

async function clusterConnection(cluster: AnyCluster, owned: boolean): Promise<RedisConnection> {
  if (!cluster.isOpen) await cluster.connect()
  const send = <T>(key: string | undefined, args: string[], readonly = false) => cluster.sendCommand<T>(key, readonly, args)
  return {
    mode: 'cluster',
    eval: (script, keys, args) => evalWith((a) => send(keys[0], a), script, keys, args),
    command: send,
    async evalAndWait(script, keys, args, replicas, timeoutMs) {
      // WAIT routed by the same key goes to the same master over the same connection.
      const reply = evalWith((a) => send(keys[0], a), script, keys, args)
      const acked = send<number>(keys[0], ['WAIT', String(replicas), String(timeoutMs)])
      // Both awaited together: a rejected reply must not leave the WAIT rejection unhandled (a crash).
      return (await Promise.all([reply, acked])) as [never, number]
    },
    async masters() {
      return Promise.all(cluster.masters.map(async (m) => clientRunner((await cluster.nodeClient(m)) as AnyClient)))
    },
    async subscriber(attempt, name) {
      const masters = cluster.masters
      const node = masters[attempt % masters.length]
      if (!node) throw new StoreUnavailableError('redis store: the cluster has no known master')
      return (await cluster.nodeClient(node)).duplicate({ name }) as AnyClient
    },
    async close() {
      if (owned && cluster.isOpen) await cluster.close()
    },
  }
}

async function sentinelConnection(
  sentinel: AnySentinel,
  owned: boolean,
  clientFor: (node: { host: string; port: number }, name: string) => AnyClient,
): Promise<RedisConnection> {
  if (!sentinel.isOpen) await sentinel.connect()
  const send = <T>(args: string[], readonly = false) => sentinel.sendCommand<T>(readonly, args)
  const runner: NodeRunner = {
    command: (args) => send(args),
    eval: <T>(s: Script, k: string[], a: Array<string | number>) => evalWith<T>((x) => send<T>(x), s, k, a),
  }
  return {
    mode: 'sentinel',
    eval: runner.eval,
    command: (_key, args, readonly) => send(args, readonly),
    evalAndWait(script, keys, args, replicas, timeoutMs) {
      // A leased client, so the WAIT follows our write on the same connection.
      return sentinel.use(async (c) => {
        const s = <T>(a: string[]) => c.sendCommand<T>(false, a)
        const reply = evalWith(s, script, keys, args)
        const acked = s<number>(['WAIT', String(replicas), String(timeoutMs)])
        // Both awaited together: a rejected reply must not leave the WAIT rejection unhandled (a crash).
        return (await Promise.all([reply, acked])) as [never, number]
      })
    },
    masters: async () => [runner],
    async subscriber(_attempt, name) {
      const node = sentinel.getMasterNode()
      if (!node) throw new StoreUnavailableError('redis store: Sentinel knows no master right now')
      return clientFor(node, name)
    },
    async close() {
      if (owned && sentinel.isOpen) await sentinel.close()
    },
  }
}

/** Client failures (connection refused, reset, timeouts, failover in progress) as StoreUnavailableError. */
export function unavailable(e: unknown, what: string): Error {
  if (e instanceof SessionMeshError) return e
  return new StoreUnavailableError(`redis store: ${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
}

/**
 * A store script's refusal (an error reply `SESSIONMESH_<WHAT> <detail>`) as its typed
 * error; anything else from the client as StoreUnavailableError. Shared by every Redis layout.
 */
export function scriptRefusal(e: unknown, id: string, conditions: ApplyConditions = {}): Error {
  const message = e instanceof Error ? e.message.replace(/^ERR /, '') : ''
  if (message === 'SESSIONMESH_EXISTS') return new SessionExistsError(id)
  if (message === 'SESSIONMESH_NOT_FOUND') return new SessionNotFoundError(id)
  if (message.startsWith('SESSIONMESH_VERSION ')) {
    return new VersionConflictError(id, conditions.expectedVersion ?? -1, Number(message.slice(20)))
  }
  if (message.startsWith('SESSIONMESH_FENCE ')) return new StaleFenceError(id, conditions.fence ?? -1, Number(message.slice(18)))
  const type = /^SESSIONMESH_TYPE (number|array|object) ([\s\S]*)$/.exec(message)
  if (type) return new AttributeTypeError(type[2] as string, type[1] as 'number' | 'array' | 'object')
  const large = /^SESSIONMESH_TOO_LARGE (\d+) (\d+)$/.exec(message)
  if (large) return new SessionTooLargeError(Number(large[1]), Number(large[2]))
  return unavailable(e, 'command failed')
}
