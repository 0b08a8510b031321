/**
 * One small surface over node-redis' three client kinds (a client, a Cluster, a Sentinel),
 * so what uses Redis is written once: run a script or a command on the node that owns a key,
 * run something on every master, wait for replication. Scripts go as EVALSHA and fall back
 * to EVAL once per node on NOSCRIPT (which also loads them), so a save stays one round trip.
 */
import { ConfigurationError, StoreUnavailableError } from '../core/errors.js'
import { type AnyClient, type AnyCluster, type AnySentinel, connectOwn, kindOf, loadRedis, reconnectStrategy, type RedisTarget } from './client.js'
import type { CallOf, LuaScript, RedisReply, ReplyOf } from './script.js'

export type { RedisTarget } from './client.js'

/** Runs commands on one node: a standalone server, a Cluster master, or the Sentinel-elected master. */
export interface NodeRunner {
  command: <T>(args: string[]) => Promise<T>
  run: <S extends LuaScript>(script: S, call: CallOf<S>) => Promise<ReplyOf<S>>
}

export interface RedisConnection {
  readonly mode: 'standalone' | 'cluster' | 'sentinel'
  /** Run a script on the node owning its first key (every key must share its slot). */
  run<S extends LuaScript>(script: S, call: CallOf<S>): Promise<ReplyOf<S>>
  /** Run a command on the node owning `key` (any node if undefined). */
  command<T>(key: string | undefined, args: string[], readonly?: boolean): Promise<T>
  /**
   * Run a script and then `WAIT replicas timeoutMs` on the same connection (pipelined: one
   * round trip); resolves with the script's reply and how many replicas acknowledged.
   */
  runAndWait<S extends LuaScript>(script: S, call: CallOf<S>, replicas: number, timeoutMs: number): Promise<[ReplyOf<S>, number]>
  /** Every master right now (Cluster: each shard's master; otherwise the one server). */
  masters(): Promise<NodeRunner[]>
  /**
   * A new, unconnected client for a node that hears this connection's PUBLISHes, for a
   * change feed's subscription: the server itself; on Cluster any master (PUBLISH reaches
   * every node), the `attempt`-th in turn; behind Sentinel the current master (its replicas
   * get the PUBLISHes through replication, so it stays useful after a failover).
   */
  subscriber(attempt: number, name: string): Promise<AnyClient>
  close(): Promise<void>
}

const isNoScript = (e: unknown) => e instanceof Error && e.message.startsWith('NOSCRIPT')

type Send = (args: string[]) => Promise<RedisReply>

/** Sends a command to the node owning these keys. */
type Route = (keys: string[]) => Send

/** EVALSHA, then EVAL if this node has not seen the script (after a restart or failover, say). */
async function evaluate<S extends LuaScript>(route: Route, script: S, call: CallOf<S>): Promise<ReplyOf<S>> {
  const { keys, args } = script.encode(call)
  const send = route(keys)
  const tail = [String(keys.length), ...keys, ...args]
  let reply: RedisReply
  try {
    reply = await send(['EVALSHA', script.sha, ...tail])
  } catch (e) {
    if (!isNoScript(e)) throw e
    reply = await send(['EVAL', script.source, ...tail])
  }
  return script.parse(reply) as ReplyOf<S>
}

/**
 * The script, then WAIT on the same route, sent in one tick: node-redis writes them together
 * on the one connection, in order. After a NOSCRIPT the EVAL gets a WAIT of its own (the first
 * one counted only what came before the refused EVALSHA).
 */
async function evaluateAndWait<S extends LuaScript>(route: Route, script: S, call: CallOf<S>, replicas: number, timeoutMs: number): Promise<[ReplyOf<S>, number]> {
  const { keys, args } = script.encode(call)
  const send = route(keys)
  const tail = [String(keys.length), ...keys, ...args]
  const wait = ['WAIT', String(replicas), String(timeoutMs)]
  // Both awaited together: a rejected reply must not leave the WAIT rejection unhandled (a crash).
  const both = (first: string[]) => Promise.all([send(first), send(wait)])
  let replies: [RedisReply, RedisReply]
  try {
    replies = await both(['EVALSHA', script.sha, ...tail])
  } catch (e) {
    if (!isNoScript(e)) throw e
    replies = await both(['EVAL', script.source, ...tail])
  }
  return [script.parse(replies[0]) as ReplyOf<S>, Number(replies[1])]
}

function clientRunner(client: AnyClient): NodeRunner {
  const route: Route = () => (args) => client.sendCommand<RedisReply>(args)
  return { command: <T>(args: string[]) => client.sendCommand<T>(args), run: (script, call) => evaluate(route, script, call) }
}

/**
 * Connects (or adopts) a client as `target` says; a client we create is ours to close. The
 * `signal` abandons a connection still being made (node-redis retries a refused connect
 * forever), so closing whatever owns it does not hang. `feature` names the caller in errors
 * (MissingDependencyError when node-redis is not installed, a bad `client`).
 */
export async function connectRedis(target: RedisTarget, onError: (e: Error) => void, signal?: AbortSignal, feature = 'redisStore'): Promise<RedisConnection> {
  if ('client' in target) {
    const kind = kindOf(target.client)
    if (kind === null) throw new ConfigurationError(`${feature}: \`client\` must be a node-redis client, cluster or sentinel`)
    if (kind === 'cluster') return clusterConnection(target.client as AnyCluster, false)
    if (kind === 'sentinel') {
      // Your Sentinel's node options are not visible to us: the subscriber connects without credentials.
      const redis = loadRedis(feature)
      return sentinelConnection(target.client as AnySentinel, false, (node, name) => redis.createClient({ name, socket: { host: node.host, port: node.port } }))
    }
    return clientConnection(target.client as AnyClient, false)
  }
  const redis = loadRedis(feature)
  // node-redis reconnects by itself (errors between attempts are reported, not thrown).
  // Without the offline queue a command during an outage fails at once (a 503 now) instead
  // of waiting, unbounded, for the connection to come back.
  const common = { disableOfflineQueue: true, socket: { reconnectStrategy, connectTimeout: 5_000 } }
  if ('url' in target) {
    const client = redis.createClient({ url: target.url, ...common }) as unknown as AnyClient
    return clientConnection(await connectOwn(client, onError, signal), true)
  }
  if ('cluster' in target) {
    const cluster = redis.createCluster({
      rootNodes: target.cluster.rootNodes,
      defaults: { ...target.cluster.defaults, ...common },
    }) as unknown as AnyCluster
    return clusterConnection(await connectOwn(cluster, onError, signal), true)
  }
  if ('sentinel' in target) {
    const sentinel = redis.createSentinel({
      name: target.sentinel.name,
      sentinelRootNodes: target.sentinel.sentinelRootNodes,
      nodeClientOptions: { ...common, ...(target.sentinel.password ? { password: target.sentinel.password } : {}) },
    }) as unknown as AnySentinel
    const nodeOptions = { socket: { reconnectStrategy }, ...(target.sentinel.password ? { password: target.sentinel.password } : {}) }
    return sentinelConnection(await connectOwn(sentinel, onError, signal), true, (node, name) =>
      redis.createClient({ ...nodeOptions, name, socket: { ...nodeOptions.socket, host: node.host, port: node.port } }),
    )
  }
  throw new ConfigurationError(`${feature}: give \`url\`, \`client\`, \`cluster\` or \`sentinel\``)
}

async function clientConnection(client: AnyClient, owned: boolean): Promise<RedisConnection> {
  if (!client.isOpen) await client.connect()
  const runner = clientRunner(client)
  const route: Route = () => (args) => client.sendCommand<RedisReply>(args)
  return {
    mode: 'standalone',
    run: runner.run,
    command: (_key, args) => runner.command(args),
    runAndWait: (script, call, replicas, timeoutMs) => evaluateAndWait(route, script, call, replicas, timeoutMs),
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
  // A script goes to the master of its first key; WAIT routed by the same key goes to the same master over the same connection.
  const route: Route = (keys) => (args) => send<RedisReply>(keys[0], args)
  return {
    mode: 'cluster',
    run: (script, call) => evaluate(route, script, call),
    command: send,
    runAndWait: (script, call, replicas, timeoutMs) => evaluateAndWait(route, script, call, replicas, timeoutMs),
    async masters() {
      return Promise.all(cluster.masters.map(async (m) => clientRunner((await cluster.nodeClient(m)) as AnyClient)))
    },
    async subscriber(attempt, name) {
      const masters = cluster.masters
      const node = masters[attempt % masters.length]
      if (!node) throw new StoreUnavailableError('redis: the cluster has no known master')
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
    run: (script, call) => evaluate(() => (a) => send<RedisReply>(a), script, call),
  }
  return {
    mode: 'sentinel',
    run: runner.run,
    command: (_key, args, readonly) => send(args, readonly),
    runAndWait(script, call, replicas, timeoutMs) {
      // A leased client, so the WAIT follows our write on the same connection.
      return sentinel.use((c) => evaluateAndWait(() => (a) => c.sendCommand<RedisReply>(false, a), script, call, replicas, timeoutMs))
    },
    masters: async () => [runner],
    async subscriber(_attempt, name) {
      const node = sentinel.getMasterNode()
      if (!node) throw new StoreUnavailableError('redis: Sentinel knows no master right now')
      return clientFor(node, name)
    },
    async close() {
      if (owned && sentinel.isOpen) await sentinel.close()
    },
  }
}
