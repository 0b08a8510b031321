/**
 * Joins a `Sessions` instance's events to a change bus: this instance's changes go out,
 * other instances' changes come in on the same emitter (with their `origin`), so a listener
 * on `sessions.events` hears every instance, each event once.
 */
import { EventEmitter } from 'node:events'
import { ConfigurationError } from './errors.js'
import type { DestroyReason, SessionEvent, SessionEventMap, SessionEvents } from './events.js'
import { pause } from './pause.js'
import { BusUnavailableError } from './errors.js'
import type { BusEvent, BusEventInput, BusStatus, ChangeBus, Subscription } from './bus.js'

export interface ConnectBusOptions {
  /** This instance's id, unique in the fleet (a host name, a pod name): events carry it as `origin`. */
  instanceId: string
  /** Resume reading after this event id (a `lastId` persisted earlier). Default: from now. */
  from?: string
  /** Told when reading from the bus stops or starts again (a near cache flushes and bypasses while `disconnected`). */
  onStatus?: (status: BusStatus) => void
  /** Bus failures (publish retries, malformed entries, reconnects, gaps). Default: `events.reportError`. */
  onError?: (error: Error) => void
  /** Most local events waiting to be published while the bus is down; past it the oldest are dropped (and reported). Default 10,000. */
  maxPending?: number
}

/** A remote event as re-emitted locally: the usual payload plus the instance it came from. */
export type RemoteEvent<T extends SessionEvent = SessionEvent> = T & { origin: string }

/** The running bridge; `status` events say when the subscription drops and returns. */
export class BusLink extends EventEmitter<{ status: [BusStatus] }> {
  /** @internal */
  constructor(
    readonly instanceId: string,
    readonly subscription: Subscription,
    private readonly state: { pending: () => number; close: () => Promise<void> },
  ) {
    super()
  }
  /** Whether other instances' events are arriving right now. */
  get status(): BusStatus {
    return this.subscription.status
  }
  /** The id of the last event read from the bus: persist it and pass it as `from` to resume without a gap. */
  get lastId(): string | null {
    return this.subscription.lastId
  }
  /** Local events not yet published (the bus is slow or down). */
  get pending(): number {
    return this.state.pending()
  }
  /** Stops forwarding (after trying to publish what is pending, for up to 2 s) and reading. Does not close the bus. */
  close(): Promise<void> {
    return this.state.close()
  }
}

const REASONS: ReadonlySet<string> = new Set<DestroyReason>(['destroy', 'revoked', 'regenerate', 'evicted'])
const LOCAL = ['created', 'updated', 'destroyed', 'expired', 'id-changed'] as const

/** A local event as the bus carries it. */
function toBus<K extends (typeof LOCAL)[number]>(kind: K, e: SessionEventMap[K][0], origin: string): BusEventInput {
  const base = { id: e.id, principal: e.principal, at: e.at, origin }
  switch (kind) {
    case 'updated':
      return { ...base, type: 'updated', keys: [...(e as SessionEventMap['updated'][0]).keys] }
    case 'id-changed':
      return { ...base, type: 'id-changed', previousId: (e as SessionEventMap['id-changed'][0]).previousId }
    case 'destroyed': {
      const reason = (e as SessionEventMap['destroyed'][0]).reason
      return reason === 'revoked' ? { ...base, type: 'revoked' } : { ...base, type: 'destroyed', reason }
    }
    default:
      return { ...base, type: kind }
  }
}

/**
 * Forwards this instance's session events (created, updated, destroyed, expired, id-changed;
 * a destroy with reason `revoked` travels as `revoked`) to `bus`, and re-emits other
 * instances' events on `events` with an `origin` field. Own events read back from the bus
 * are not emitted again, and remote events are never published again. Local events are
 * published in order, after the change is in the store (they are emitted then); while the
 * bus is down they wait in a bounded queue and are retried.
 *
 * @example
 * const link = connectBus(sessions.events, redisStreamBus({ redis: { url } }), {
 *   instanceId: os.hostname(),
 *   onStatus: (s) => (s === 'disconnected' ? nearCache.flushAndBypass() : nearCache.resume()),
 * })
 * sessions.events.on('destroyed', (e) => console.log('destroyed', e.id, 'on', (e as RemoteEvent).origin ?? 'this instance'))
 */
export function connectBus(events: SessionEvents, bus: ChangeBus, options: ConnectBusOptions): BusLink {
  const { instanceId } = options
  if (typeof instanceId !== 'string' || instanceId.length === 0 || instanceId.length > 256) {
    throw new ConfigurationError('connectBus: instanceId must be a non-empty string (at most 256 characters)')
  }
  const maxPending = options.maxPending ?? 10_000
  if (!Number.isInteger(maxPending) || maxPending < 1) throw new ConfigurationError('connectBus: maxPending must be a whole number >= 1')
  const report = options.onError ?? ((e: Error) => events.reportError(e))
  // Payloads we emitted for other instances: our own listeners see them too and must not publish them.
  const remote = new WeakSet<object>()

  const queue: BusEventInput[] = []
  let draining: Promise<void> | null = null
  let closing = false
  const stopRetry = new AbortController()

  const drain = async () => {
    let backoff = 50
    while (queue.length > 0 && !stopRetry.signal.aborted) {
      const batch = queue.slice(0, 64)
      // Sent in the same tick, so a transport with one connection pipelines them in order.
      const results = await Promise.allSettled(batch.map((e) => bus.publish(e)))
      const failed = results.findIndex((r) => r.status === 'rejected')
      if (failed === -1) {
        queue.splice(0, batch.length)
        backoff = 50
        continue
      }
      queue.splice(0, failed)
      const reason = (results[failed] as PromiseRejectedResult).reason as unknown
      if (reason instanceof TypeError) {
        // An event the codec refuses would never publish: drop it rather than block the rest.
        queue.shift()
        report(reason)
        continue
      }
      report(reason instanceof Error ? reason : new BusUnavailableError(String(reason)))
      await pause(backoff, stopRetry.signal)
      backoff = Math.min(backoff * 2, 2_000)
    }
  }

  const enqueue = (e: BusEventInput) => {
    queue.push(e)
    if (queue.length > maxPending) {
      const dropped = queue.splice(0, queue.length - maxPending).length
      report(new BusUnavailableError(`connectBus: ${dropped} local event(s) dropped, over maxPending (${maxPending}) while the bus is down`))
    }
    draining ??= drain().finally(() => {
      draining = null
      // Something may have been queued after the loop saw an empty queue.
      if (queue.length > 0 && !stopRetry.signal.aborted) void Promise.resolve().then(() => (draining ??= drain().finally(() => (draining = null))))
    })
  }

  const emitRemote = (e: BusEvent) => {
    if (e.origin === instanceId) return // ours: already emitted locally when it happened
    const base = { id: e.id, principal: e.principal, at: e.at, origin: e.origin }
    switch (e.type) {
      case 'created':
      case 'expired': {
        const payload: RemoteEvent = { ...base }
        remote.add(payload)
        events.emit(e.type, payload)
        return
      }
      case 'updated': {
        const payload: RemoteEvent<SessionEventMap['updated'][0]> = { ...base, keys: e.keys ?? [] }
        remote.add(payload)
        events.emit('updated', payload)
        return
      }
      case 'id-changed': {
        if (e.previousId === undefined) return
        const payload: RemoteEvent<SessionEventMap['id-changed'][0]> = { ...base, previousId: e.previousId }
        remote.add(payload)
        events.emit('id-changed', payload)
        return
      }
      case 'destroyed':
      case 'revoked': {
        const reason: DestroyReason = e.type === 'revoked' ? 'revoked' : e.reason !== undefined && REASONS.has(e.reason) ? (e.reason as DestroyReason) : 'destroy'
        const payload: RemoteEvent<SessionEventMap['destroyed'][0]> = { ...base, reason }
        remote.add(payload)
        events.emit('destroyed', payload)
        return
      }
    }
  }

  let link: BusLink | null = null
  const subscription = bus.subscribe(emitRemote, {
    ...(options.from !== undefined ? { from: options.from } : {}),
    onError: report,
    onStatus: (s) => {
      try {
        options.onStatus?.(s)
      } catch (e) {
        report(e as Error)
      }
      link?.emit('status', s)
    },
  })

  // Listening starts only once the subscription exists: a bus that refuses to subscribe leaves nothing behind.
  const listeners = LOCAL.map((kind) => {
    const listener = (e: SessionEventMap[typeof kind][0]) => {
      if (closing || remote.has(e)) return
      enqueue(toBus(kind, e, instanceId))
    }
    events.on(kind, listener)
    return () => events.off(kind, listener)
  })

  let closed: Promise<void> | null = null
  link = new BusLink(instanceId, subscription, {
    pending: () => queue.length,
    close: () =>
      (closed ??= (async () => {
        closing = true
        for (const off of listeners) off()
        if (draining) {
          // Give pending events a bounded chance to go out; a publish stuck on a dead
          // connection must not hold up shutdown.
          let timer: NodeJS.Timeout | undefined
          await Promise.race([draining, new Promise<void>((resolve) => (timer = setTimeout(resolve, 2_000)))])
          clearTimeout(timer)
          if (queue.length > 0) report(new BusUnavailableError(`connectBus: closed with ${queue.length} local event(s) unpublished`))
        }
        stopRetry.abort()
        await subscription.close()
      })()),
  })
  return link
}
