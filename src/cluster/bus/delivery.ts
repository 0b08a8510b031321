/**
 * What every transport's subscription shares: de-duplication, the position (`lastId`),
 * handing events to the handler one at a time, status changes, and error reporting.
 */
import { BusHandlerError, MalformedEventError } from '../../core/errors.js'
import { decodeEvent } from './codec.js'
import { RecentIds } from './dedupe.js'
import type { BusEvent, BusHandler, BusOptions, BusStatus, SubscribeOptions, Subscription } from '../../core/bus.js'

/** Orders two event ids of one transport: negative if `a` came first. */
export type CompareIds = (a: string, b: string) => number

export class Delivery {
  lastId: string | null
  status: BusStatus = 'disconnected'
  readonly #recent: RecentIds
  readonly #onStatus: ((s: BusStatus) => void) | undefined
  readonly #onError: (e: Error) => void

  constructor(
    readonly handler: BusHandler,
    options: SubscribeOptions,
    busOptions: BusOptions,
    readonly compare: CompareIds,
  ) {
    this.lastId = options.from ?? null
    this.#recent = new RecentIds(busOptions.dedupeWindow ?? 10_000)
    this.#onStatus = options.onStatus
    const onError = options.onError ?? busOptions.onError
    this.#onError = (e) => {
      // A reporting callback that throws must not stop the reader loop that called it.
      try {
        onError?.(e)
      } catch {
        /* ignored on purpose */
      }
    }
  }

  report(error: Error): void {
    this.#onError(error)
  }

  setStatus(status: BusStatus): void {
    if (status === this.status) return
    this.status = status
    try {
      this.#onStatus?.(status)
    } catch (e) {
      this.report(e as Error)
    }
  }

  /**
   * Decodes and hands over one stored entry. Duplicates (an id seen recently, or not after
   * the position, which a transport may redeliver around a reconnect) are dropped; a
   * malformed entry is reported and skipped but still moves the position, so a resume
   * does not read it again.
   */
  async accept(eventId: string, raw: unknown): Promise<void> {
    if (this.lastId !== null && this.compare(eventId, this.lastId) <= 0) return
    if (!this.#recent.add(eventId)) return
    const event = decodeEvent(eventId, raw)
    if (event instanceof MalformedEventError) {
      this.report(event)
    } else {
      await this.#handle(event)
    }
    this.lastId = eventId
  }

  async #handle(event: BusEvent): Promise<void> {
    try {
      await this.handler(event)
    } catch (e) {
      this.report(new BusHandlerError(event.eventId, { cause: e }))
    }
  }

  /** The public face of this delivery; `close` is the transport's. */
  subscription(close: () => Promise<void>): Subscription {
    const lastId = () => this.lastId
    const status = () => this.status
    return {
      get lastId() {
        return lastId()
      },
      get status() {
        return status()
      },
      close,
    }
  }
}

/** Compares decimal integers of any length (JetStream sequences, SQLite rowids) as numbers. */
export function compareDecimal(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length
  return a < b ? -1 : a > b ? 1 : 0
}
