/**
 * The change bus: how every instance of a fleet learns about every session change. Transports
 * (Redis Streams, NATS JetStream, an SQLite table) implement `ChangeBus`; `connectBus` joins
 * one to a `Sessions` instance's events.
 */

/** What happened to a session. `revoked` is a destroy with reason `revoked` (log out everywhere). */
export type BusEventType = 'created' | 'updated' | 'destroyed' | 'expired' | 'revoked' | 'id-changed'

/** One session change as it travels between instances. Names of attributes only, never values. */
export interface BusEvent {
  /**
   * The transport's position of this event (Redis stream entry id, JetStream sequence, SQLite
   * rowid), so it is both the de-duplication key and what `subscribe({ from })` resumes after.
   */
  eventId: string
  type: BusEventType
  /** The session id. */
  id: string
  principal: string | null
  /** Epoch ms when it happened on the instance that made the change. */
  at: number
  /** The instance that made the change. */
  origin: string
  /** `updated`: the attribute names that changed. */
  keys?: string[]
  /** `id-changed`: the id before. */
  previousId?: string
  /** `destroyed`: why (`destroy`, `regenerate`, `evicted`). */
  reason?: string
}

/** An event to publish: the transport assigns `eventId`. */
export type BusEventInput = Omit<BusEvent, 'eventId'>

/** Whether a subscription is reading from its transport right now. */
export type BusStatus = 'connected' | 'disconnected'

/**
 * Receives each event once. Events are handed over one at a time, in stream order; a
 * returned promise is awaited before the next one (and before `lastId` moves past it).
 */
export type BusHandler = (event: BusEvent) => void | Promise<void>

export interface SubscribeOptions {
  /**
   * Resume after this event id (exclusive), e.g. the `lastId` a consumer persisted before it
   * stopped. Default: only events published from now on.
   */
  from?: string
  /** Told each time the subscription's status changes (first `connected`, then on every drop and return). */
  onStatus?: (status: BusStatus) => void
  /** Malformed entries, handler failures, connection errors, gaps. Default: the bus's `onError`. */
  onError?: (error: Error) => void
}

/** A live subscription. */
export interface Subscription {
  /** The id of the last event handed to the handler (or `from` until one is). Persist it to resume. */
  readonly lastId: string | null
  readonly status: BusStatus
  /** Stops reading; resolves once the reader has stopped and its connection is closed. */
  close(): Promise<void>
}

/**
 * Carries session events between instances. Delivery by the transport is at least once; the
 * subscriber side de-duplicates by `eventId`, so a handler never sees one event twice.
 * Events of one publisher arrive in the order it published them.
 *
 * @example
 * const bus = redisStreamBus({ redis: { url: 'redis://localhost:6379' } })
 * const sub = bus.subscribe((e) => console.log(e.type, e.id, 'from', e.origin), { from: savedLastId })
 * await bus.publish({ type: 'destroyed', id, principal: null, at: Date.now(), origin: 'web-1', reason: 'destroy' })
 * // later: persist sub.lastId; await bus.close()
 */
export interface ChangeBus {
  /** Which transport, for logs. */
  readonly kind: string
  /** Appends one event; resolves with its `eventId` once the transport has stored it. */
  publish(event: BusEventInput): Promise<string>
  /** Reads events (from `options.from`, else from now) until the subscription or the bus is closed. */
  subscribe(handler: BusHandler, options?: SubscribeOptions): Subscription
  /** Closes every subscription and the connections the bus opened (never a client you passed in). */
  close(): Promise<void>
}

/** Options every bus takes. */
export interface BusOptions {
  /** Where failures that are not thrown at a caller go (malformed entries, reconnects, gaps). Default: ignored. */
  onError?: (error: Error) => void
  /** How many recent event ids each subscription remembers to drop duplicates. Default 10,000. */
  dedupeWindow?: number
}
