/**
 * One small surface over node-redis' three client kinds (a client, a Cluster, a Sentinel),
 * so what uses Redis is written once: run a script or a command on the node that owns a key,
 * run something on every master, wait for replication. Scripts go as EVALSHA and fall back
 * to EVAL once per node on NOSCRIPT (which also loads them), so a save stays one round trip.
 */
import { ConfigurationError, StoreUnavailableError } from '../core/errors.js'
import { type AnyClient, type AnyCluster, type AnySentinel, connectOwn, kindOf, loadRedis, reconnectStrategy, type RedisTarget } from './client.js'
import { withDeadline } from './deadline.js'
import { type Recycler, recycler } from './recycler.js'
import type { CallOf, LuaScript, RedisReply, ReplyOf } from './script.js'
import { type LaneTarget, nodeOf, type WaitLanes, waitLanes } from './wait-lanes.js'

export type { RedisTarget } from './client.js'

/** How long Redis may take to answer: what `commandTimeout` sets on the store, the bus and the locks. */
export interface ConnectTimeouts {
  /** Longest wait for any one command's reply. Default 2 s. */
  commandTimeoutMs?: number
  /** Writes that WAIT at once, per node (each on a connection of its own). Default 16. */
  waitLanes?: number
}

export const DEFAULT_COMMAND_TIMEOUT_MS = 2_000

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
   * Run a script and then `WAIT replicas timeoutMs` on a connection of their own (pipelined:
   * one round trip), so the WAIT holds up no other request; resolves with the script's reply
   * and how many replicas acknowledged.
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

/** What one connection's deadlines and WAIT lanes need. */
interface Limits {
  commandTimeoutMs: number
  lanes: number
  onError: (e: Error) => void
  feature: string
}

/** `send` within the command timeout; a late reply makes `onLate` drop the connection it waits on. */
function bounded(limits: Limits, send: <T>(args: string[]) => Promise<T>, onLate: () => void) {
  return <T>(args: string[]) => withDeadline(send<T>(args), limits.commandTimeoutMs, args[0] ?? 'command', onLate)
}

/** Closes a client we made; one still reconnecting (after a recycle) is destroyed, as close() would wait for it. */
async function closeOwn(c: { isOpen: boolean; isReady: boolean; close(): Promise<unknown>; destroy(): unknown }): Promise<void> {
  if (!c.isOpen) return
  if (c.isReady) await c.close()
  else await c.destroy()
}

function clientRunner(send: <T>(args: string[]) => Promise<T>): NodeRunner {
  const route: Route = () => (args) => send<RedisReply>(args)
  return { command: <T>(args: string[]) => send<T>(args), run: (script, call) => evaluate(route, script, call) }
}

function lanesFor(limits: Limits, waitTimeoutMs: number): WaitLanes {
  return waitLanes({
    size: limits.lanes,
    acquireTimeoutMs: limits.commandTimeoutMs,
    socketTimeoutMs: waitTimeoutMs + 2 * limits.commandTimeoutMs,
    onError: limits.onError,
    feature: limits.feature,
  })
}

/**
 * A write and its WAIT on a lane to `node`, within the command timeout plus the wait (and
 * plus the wait for a free lane); a lane that does not answer is dropped with its pool.
 */
function onLane<S extends LuaScript>(
  limits: Limits,
  lanes: () => WaitLanes,
  node: LaneTarget,
  script: S,
  call: CallOf<S>,
  replicas: number,
  timeoutMs: number,
): Promise<[ReplyOf<S>, number]> {
  const task = lanes().execute(node, (lane) => evaluateAndWait(() => (args) => lane.sendCommand<RedisReply>(args), script, call, replicas, timeoutMs))
  return withDeadline(task, 2 * limits.commandTimeoutMs + timeoutMs, 'WAIT', () => lanes().recycle(node))
}

/**
 * Connects (or adopts) a client as `target` says; a client we create is ours to close. The
 * `signal` abandons a connection still being made (node-redis retries a refused connect
 * forever), so closing whatever owns it does not hang. `feature` names the caller in errors
 * (MissingDependencyError when node-redis is not installed, a bad `client`).
 */
export async function connectRedis(
  target: RedisTarget,
  onError: (e: Error) => void,
  signal?: AbortSignal,
  feature = 'redisStore',
  timeouts: ConnectTimeouts = {},
): Promise<RedisConnection> {
  const commandTimeoutMs = timeouts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS
  const limits: Limits = { commandTimeoutMs, lanes: timeouts.waitLanes ?? 16, onError, feature }
  if ('client' in target) {
    const kind = kindOf(target.client)
    if (kind === null) throw new ConfigurationError(`${feature}: \`client\` must be a node-redis client, cluster or sentinel`)
    if (kind === 'cluster') return clusterConnection(target.client as AnyCluster, false, limits)
    if (kind === 'sentinel') {
      // Your Sentinel's node options are not visible to us: the subscriber connects without credentials.
      const redis = loadRedis(feature)
      return sentinelConnection(target.client as AnySentinel, false, limits, (node, name) => redis.createClient({ name, socket: { host: node.host, port: node.port } }))
    }
    return clientConnection(target.client as AnyClient, false, limits)
  }
  const redis = loadRedis(feature)
  // node-redis reconnects by itself (errors between attempts are reported, not thrown).
  // Without the offline queue a command during an outage fails at once (a 503 now) instead
  // of waiting, unbounded, for the connection to come back.
  // A socket silent for twice the command timeout is dropped by node-redis itself (a handshake
  // to a paused server, say: the deadline covers commands, not the connect); the PINGs keep
  // an idle, healthy connection from counting as silent.
  const common = {
    disableOfflineQueue: true,
    pingInterval: Math.max(Math.floor(commandTimeoutMs / 2), 1),
    socket: { reconnectStrategy, connectTimeout: 5_000, socketTimeout: 2 * commandTimeoutMs },
  }
  if ('url' in target) {
    const client = redis.createClient({ url: target.url, ...common }) as unknown as AnyClient
    return clientConnection(await connectOwn(client, onError, signal), true, limits)
  }
  if ('cluster' in target) {
    const cluster = redis.createCluster({
      rootNodes: target.cluster.rootNodes,
      defaults: { ...target.cluster.defaults, ...common },
    }) as unknown as AnyCluster
    return clusterConnection(await connectOwn(cluster, onError, signal), true, limits)
  }
  if ('sentinel' in target) {
    const sentinel = redis.createSentinel({
      name: target.sentinel.name,
      sentinelRootNodes: target.sentinel.sentinelRootNodes,
      nodeClientOptions: { ...common, ...(target.sentinel.password ? { password: target.sentinel.password } : {}) },
    }) as unknown as AnySentinel
    const nodeOptions = { socket: { reconnectStrategy }, ...(target.sentinel.password ? { password: target.sentinel.password } : {}) }
    return sentinelConnection(
      await connectOwn(sentinel, onError, signal),
      true,
      limits,
      (node, name) => redis.createClient({ ...nodeOptions, name, socket: { ...nodeOptions.socket, host: node.host, port: node.port } }),
      (node) => ({ address: `${node.host}:${node.port}`, options: { ...common, ...nodeOptions, socket: { ...common.socket, host: node.host, port: node.port } } }),
    )
  }
  throw new ConfigurationError(`${feature}: give \`url\`, \`client\`, \`cluster\` or \`sentinel\``)
}

async function clientConnection(client: AnyClient, owned: boolean, limits: Limits): Promise<RedisConnection> {
  if (!client.isOpen) await client.connect()
  const shared: Recycler<AnyClient> = recycler(client, owned, limits.onError)
  const send = <T>(args: string[]) => {
    const c = shared.current
    return bounded(limits, (a) => c.sendCommand(a), () => shared.recycle(c))<T>(args)
  }
  const runner = clientRunner(send)
  let lanes: WaitLanes | null = null
  return {
    mode: 'standalone',
    run: runner.run,
    command: (_key, args) => runner.command(args),
    runAndWait: (script, call, replicas, timeoutMs) => onLane(limits, () => (lanes ??= lanesFor(limits, timeoutMs)), nodeOf(shared.current), script, call, replicas, timeoutMs),
    masters: async () => [runner],
    subscriber: async (_attempt, name) => shared.current.duplicate({ name }) as AnyClient,
    async close() {
      await lanes?.close()
      if (owned) await closeOwn(shared.current)
    },
  }
}

/**
 * Drops and remakes one node client's socket (node-redis connects a destroyed client again),
 * so the cluster keeps that client in its slot map; once at a time per node.
 */
function reconnector(owned: boolean, onError: (e: Error) => void) {
  const reconnecting = new Set<AnyClient>()
  return (node: AnyClient) => {
    if (!owned || reconnecting.has(node)) return
    reconnecting.add(node)
    node.destroy()
    node
      .connect()
      .catch(onError)
      .finally(() => reconnecting.delete(node))
  }
}

async function clusterConnection(cluster: AnyCluster, owned: boolean, limits: Limits): Promise<RedisConnection> {
  if (!cluster.isOpen) await cluster.connect()
  // Only the late node's connection is remade: the other shards keep serving meanwhile.
  const reconnect = reconnector(owned, limits.onError)
  const lateOn = (key: string | undefined, readonly: boolean) => () => {
    if (key !== undefined) cluster.getNodeClientForKey(key, readonly).then((node) => reconnect(node as AnyClient), limits.onError)
  }
  const send = <T>(key: string | undefined, args: string[], readonly = false) =>
    bounded(limits, (a) => cluster.sendCommand(key, readonly, a), lateOn(key, readonly))<T>(args)
  const route: Route = (keys) => (args) => send<RedisReply>(keys[0], args)
  let lanes: WaitLanes | null = null
  return {
    mode: 'cluster',
    run: (script, call) => evaluate(route, script, call),
    command: send,
    async runAndWait(script, call, replicas, timeoutMs) {
      // The lane goes to the master of the script's first key (every key shares its slot).
      const key = script.encode(call).keys[0] ?? ''
      const master = (await withDeadline(cluster.getNodeClientForKey(key), limits.commandTimeoutMs, 'CLUSTER route', lateOn(key, false))) as AnyClient
      return onLane(limits, () => (lanes ??= lanesFor(limits, timeoutMs)), nodeOf(master), script, call, replicas, timeoutMs)
    },
    async masters() {
      return Promise.all(
        cluster.masters.map(async (m) => {
          const node = (await cluster.nodeClient(m)) as AnyClient
          return clientRunner(bounded(limits, (a) => node.sendCommand(a), () => reconnect(node)))
        }),
      )
    },
    async subscriber(attempt, name) {
      const masters = cluster.masters
      const node = masters[attempt % masters.length]
      if (!node) throw new StoreUnavailableError('redis: the cluster has no known master')
      return (await cluster.nodeClient(node)).duplicate({ name }) as AnyClient
    },
    async close() {
      await lanes?.close()
      if (owned && cluster.isOpen) await cluster.close()
    },
  }
}

async function sentinelConnection(
  sentinel: AnySentinel,
  owned: boolean,
  limits: Limits,
  clientFor: (node: { host: string; port: number }, name: string) => AnyClient,
  laneTo?: (node: { host: string; port: number }) => LaneTarget,
): Promise<RedisConnection> {
  if (!sentinel.isOpen) await sentinel.connect()
  let lanes: WaitLanes | null = null
  const shared: Recycler<AnySentinel> = recycler(sentinel, owned, limits.onError)
  const send = <T>(args: string[], readonly = false) => {
    const c = shared.current
    return bounded(limits, (a) => c.sendCommand(readonly, a), () => shared.recycle(c))<T>(args)
  }
  const runner: NodeRunner = {
    command: (args) => send(args),
    run: (script, call) => evaluate(() => (a) => send<RedisReply>(a), script, call),
  }
  return {
    mode: 'sentinel',
    run: runner.run,
    command: (_key, args, readonly) => send(args, readonly),
    runAndWait(script, call, replicas, timeoutMs) {
      const c = shared.current
      const master = c.getMasterNode()
      // Ours: a lane to the master Sentinel names now (a failover changes the address, so the next write opens new lanes).
      if (laneTo && master) return onLane(limits, () => (lanes ??= lanesFor(limits, timeoutMs)), laneTo(master), script, call, replicas, timeoutMs)
      // Yours: a client leased from your Sentinel's master pool (give it `masterPoolSize` > 1 so the WAIT holds up no one).
      const task = c.use((leased) => evaluateAndWait(() => (a) => leased.sendCommand<RedisReply>(false, a), script, call, replicas, timeoutMs))
      return withDeadline(task, 2 * limits.commandTimeoutMs + timeoutMs, 'WAIT', () => shared.recycle(c))
    },
    masters: async () => [runner],
    async subscriber(_attempt, name) {
      const node = shared.current.getMasterNode()
      if (!node) throw new StoreUnavailableError('redis: Sentinel knows no master right now')
      return clientFor(node, name)
    },
    async close() {
      await lanes?.close()
      if (owned) await closeOwn(shared.current)
    },
  }
}
