/**
 * The change bus on NATS JetStream (`sessionmesh/nats`): a limits-retention stream, publish
 * with a message id JetStream de-duplicates on, and an ordered consumer per subscription
 * that resumes from a stream sequence. See docs/BUS.md.
 */
import { randomUUID } from 'node:crypto'
import { createRequire } from 'node:module'
import type * as JetStreamModule from '@nats-io/jetstream'
import type * as TransportModule from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import { ConfigurationError, MissingDependencyError } from '../../core/errors.js'
import { encodeEvent } from './codec.js'
import { compareDecimal, Delivery } from './delivery.js'
import { pause } from '../../core/pause.js'
import { BusClosedError, BusGapError, BusUnavailableError } from '../../core/errors.js'
import type { BusOptions, ChangeBus, Subscription } from '../../core/bus.js'

export type { BusEvent, BusEventInput, BusEventType, BusHandler, BusOptions, BusStatus, ChangeBus, SubscribeOptions, Subscription } from '../../core/bus.js'
export { BusClosedError, BusGapError, BusHandlerError, BusUnavailableError, MalformedEventError } from '../../core/errors.js'

export interface NatsBusOptions extends BusOptions {
  /** NATS server URL(s), e.g. `nats://10.0.0.1:4222`. */
  servers: string | string[]
  /** The JetStream stream, created if missing. Default `SESSIONMESH_EVENTS`. */
  stream?: string
  /** The subject events are published on (the stream's only subject). Default `sessionmesh.events`. */
  subject?: string
  /** Most messages the stream keeps (limits retention, oldest discarded). Default 100,000. Used when the bus creates the stream. */
  maxMsgs?: number
  /** How long JetStream remembers a message id to drop a re-sent publish. Default 2 minutes. Used when the bus creates the stream. */
  duplicateWindowMs?: number
  /** More connection options passed to `connect` (credentials, TLS, ...). */
  connectOptions?: Omit<TransportModule.NodeConnectionOptions, 'servers'>
  /** How long a publish waits for JetStream's acknowledgement, per attempt. Default 5,000 ms. */
  publishTimeoutMs?: number
}

const NAME = /^[A-Za-z0-9_-]{1,255}$/
const SEQ = /^(0|[1-9]\d{0,18})$/

/** `p`, or a BusUnavailableError after `ms`. */
async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BusUnavailableError(`${what} within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}

type Modules = { transport: typeof TransportModule; jetstream: typeof JetStreamModule }

/** Fails now (naming the package) when the optional peers are missing; they are imported later, when first used. */
function checkInstalled(): void {
  const require = createRequire(import.meta.url)
  for (const name of ['@nats-io/transport-node', '@nats-io/jetstream']) {
    try {
      require.resolve(name)
    } catch (e) {
      throw new MissingDependencyError(name, 'natsBus', { cause: e })
    }
  }
}

async function loadModules(): Promise<Modules> {
  const load = async <T>(name: string, importer: () => Promise<T>): Promise<T> => {
    try {
      return await importer()
    } catch (e) {
      const code = (e as { code?: unknown } | null)?.code
      if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') throw new MissingDependencyError(name, 'natsBus', { cause: e })
      throw e
    }
  }
  const [transport, jetstream] = await Promise.all([
    load('@nats-io/transport-node', () => import('@nats-io/transport-node')),
    load('@nats-io/jetstream', () => import('@nats-io/jetstream')),
  ])
  return { transport, jetstream }
}

/**
 * A change bus on NATS JetStream, for fleets that run NATS. Each publish carries a fresh
 * message id, so a publish JetStream stored but whose acknowledgement was lost is not stored
 * twice when it is re-sent (within `duplicateWindowMs`). Each subscription is an ordered
 * consumer: JetStream redelivers from the last sequence it handed over after a reconnect
 * or a server restart. The event id is the stream sequence. Needs the optional peer
 * dependencies `@nats-io/transport-node` and `@nats-io/jetstream` (v3).
 *
 * @example
 * import { natsBus } from 'sessionmesh/nats'
 * import { connectBus } from 'sessionmesh'
 * const bus = natsBus({ servers: 'nats://10.0.0.1:4222' })
 * connectBus(sessions.events, bus, { instanceId: process.env.HOSTNAME! })
 */
export function natsBus(options: NatsBusOptions): ChangeBus {
  const servers = options.servers
  if (!servers || (Array.isArray(servers) && servers.length === 0)) throw new ConfigurationError('natsBus: `servers` is required')
  const stream = options.stream ?? 'SESSIONMESH_EVENTS'
  const subject = options.subject ?? 'sessionmesh.events'
  const maxMsgs = options.maxMsgs ?? 100_000
  const duplicateWindowMs = options.duplicateWindowMs ?? 120_000
  const publishTimeoutMs = options.publishTimeoutMs ?? 5_000
  if (!NAME.test(stream)) throw new ConfigurationError(`natsBus: stream "${stream}" must be letters, digits, _ or -`)
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(subject)) throw new ConfigurationError(`natsBus: subject "${subject}" must be a plain subject (no wildcards)`)
  for (const [name, v] of [['maxMsgs', maxMsgs], ['duplicateWindowMs', duplicateWindowMs], ['publishTimeoutMs', publishTimeoutMs]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new ConfigurationError(`natsBus: ${name} must be a whole number >= 1`)
  }
  checkInstalled()
  let closed = false
  const connections = new Set<NatsConnection>()
  const subscriptions = new Set<Subscription>()
  let streamReady: Promise<void> | null = null

  /** A connection that reconnects forever; the first connect also waits for the server. */
  const open = async (m: Modules, name: string): Promise<NatsConnection> => {
    const nc = await m.transport.connect({
      ...options.connectOptions,
      servers,
      name,
      waitOnFirstConnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    })
    connections.add(nc)
    void nc.closed().then(() => connections.delete(nc))
    return nc
  }

  /** Creates the stream if it is missing (an existing stream's limits are left as its owner set them). */
  const ensureStream = (m: Modules, nc: NatsConnection): Promise<void> => {
    streamReady ??= (async () => {
      const jsm = await m.jetstream.jetstreamManager(nc)
      try {
        await jsm.streams.info(stream)
      } catch (e) {
        if (!(e instanceof m.jetstream.JetStreamApiError) || e.code !== m.jetstream.JetStreamApiCodes.StreamNotFound) throw e
        try {
          await jsm.streams.add({
            name: stream,
            subjects: [subject],
            retention: m.jetstream.RetentionPolicy.Limits,
            discard: m.jetstream.DiscardPolicy.Old,
            storage: m.jetstream.StorageType.File,
            max_msgs: maxMsgs,
            duplicate_window: duplicateWindowMs * 1_000_000,
          })
        } catch (e2) {
          // Another instance created it between our two calls: fine.
          await jsm.streams.info(stream).catch(() => {
            throw e2
          })
        }
      }
    })()
    streamReady.catch(() => (streamReady = null))
    return streamReady
  }

  let publisher: Promise<{ nc: NatsConnection; js: JetStreamModule.JetStreamClient }> | null = null
  const publishing = () => {
    publisher ??= (async () => {
      const m = await loadModules()
      const nc = await open(m, 'sessionmesh-bus-publisher')
      await ensureStream(m, nc)
      return { nc, js: m.jetstream.jetstream(nc) }
    })()
    publisher.catch(() => (publisher = null))
    return publisher
  }

  return {
    kind: 'nats-jetstream',

    async publish(event) {
      if (closed) throw new BusClosedError('natsBus.publish')
      const body = encodeEvent(event)
      const msgID = randomUUID()
      let last: unknown
      // The same msgID on every attempt: a retry of a publish JetStream stored but did not
      // acknowledge in time comes back as `duplicate`, with the first copy's sequence.
      for (let attempt = 0; attempt < 3 && !closed; attempt++) {
        try {
          // The first connect waits for the server (waitOnFirstConnect): bound it like the ack.
          const { js } = await withTimeout(publishing(), publishTimeoutMs, 'nats bus: no connection')
          const ack = await js.publish(subject, body, { msgID, timeout: publishTimeoutMs })
          return String(ack.seq)
        } catch (e) {
          last = e
          if (e instanceof MissingDependencyError) throw e
        }
      }
      throw new BusUnavailableError(`nats bus: publish failed: ${last instanceof Error ? last.message : String(last)}`, { cause: last })
    },

    subscribe(handler, subscribeOptions = {}) {
      if (closed) throw new BusClosedError('natsBus.subscribe')
      const from = subscribeOptions.from
      if (from !== undefined && !SEQ.test(from)) throw new ConfigurationError(`natsBus: from "${from}" is not a stream sequence`)
      const delivery = new Delivery(handler, subscribeOptions, options, compareDecimal)
      const stop = new AbortController()
      let nc: NatsConnection | null = null
      let messages: JetStreamModule.ConsumerMessages | null = null

      const watchStatus = async (conn: NatsConnection) => {
        for await (const s of conn.status()) {
          if (s.type === 'disconnect') delivery.setStatus('disconnected')
          else if (s.type === 'reconnect') delivery.setStatus('connected')
          else if (s.type === 'error') delivery.report(new BusUnavailableError(`nats bus: ${String(s.error)}`, { cause: s.error }))
        }
      }

      const loop = async () => {
        let backoff = 0
        while (!stop.signal.aborted) {
          try {
            const m = await loadModules()
            if (!nc) {
              nc = await open(m, 'sessionmesh-bus-subscriber')
              void watchStatus(nc)
            }
            if (stop.signal.aborted) break
            await ensureStream(m, nc)
            const jsm = await m.jetstream.jetstreamManager(nc)
            const info = await jsm.streams.info(stream)
            // "From now" becomes a concrete sequence at once, so a restart of this loop resumes there.
            delivery.lastId ??= String(info.state.last_seq)
            const position = BigInt(delivery.lastId)
            if (BigInt(info.state.first_seq) > position + 1n && info.state.messages > 0) {
              delivery.report(new BusGapError(delivery.lastId, String(info.state.first_seq)))
            }
            const consumer = await m.jetstream.jetstream(nc).consumers.get(stream, {
              filter_subjects: subject,
              deliver_policy: m.jetstream.DeliverPolicy.StartSequence,
              opt_start_seq: Number(position + 1n),
            })
            messages = await consumer.consume({ max_messages: 500 })
            delivery.setStatus('connected')
            backoff = 0
            for await (const msg of messages) {
              const id = String(msg.seq)
              // Sequences of a one-subject stream are contiguous: a jump means trimmed (lost) events.
              if (delivery.lastId !== null && BigInt(id) > BigInt(delivery.lastId) + 1n) delivery.report(new BusGapError(delivery.lastId, id))
              delivery.setStatus('connected')
              await delivery.accept(id, msg.string())
              if (stop.signal.aborted) break
            }
          } catch (e) {
            if (stop.signal.aborted) break
            delivery.setStatus('disconnected')
            delivery.report(new BusUnavailableError(`nats bus: subscription failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e }))
            await pause(backoff, stop.signal)
            backoff = Math.min(Math.max(backoff * 2, 100), 2_000)
          }
        }
      }

      const running = loop()
      const subscription = delivery.subscription(async () => {
        stop.abort()
        messages?.stop()
        // Closing the connection ends both the message iterator and the status watcher.
        await (nc)?.close().catch(() => {})
        await running
        delivery.setStatus('disconnected')
        subscriptions.delete(subscription)
      })
      subscriptions.add(subscription)
      return subscription
    },

    async close() {
      if (closed) return
      closed = true
      await Promise.all([...subscriptions].map((s) => s.close()))
      const p = await publisher?.catch(() => null)
      await p?.nc.close().catch(() => {})
      await Promise.all([...connections].map((c) => c.close().catch(() => {})))
    },
  }
}
