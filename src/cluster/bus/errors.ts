import { SessionMeshError } from '../../core/errors.js'

/** The bus's transport could not be reached or failed (a publish that did not store its event). */
export class BusUnavailableError extends SessionMeshError {
  readonly code: string = 'BUS_UNAVAILABLE'
  override readonly status = 503
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** The bus (or the subscription) was closed before the operation could run. */
export class BusClosedError extends BusUnavailableError {
  override readonly code = 'BUS_CLOSED'
  constructor(what: string) {
    super(`${what}: the bus is closed`)
  }
}

/**
 * An entry on the stream that is not a sessionmesh event (another writer, a newer format, a
 * corrupted row): it is skipped, never delivered, and reported with this error.
 */
export class MalformedEventError extends SessionMeshError {
  readonly code = 'BUS_MALFORMED_EVENT'
  constructor(
    readonly eventId: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`bus entry ${eventId} skipped: ${reason}`, options)
  }
}

/**
 * Events between `after` and `resumedAt` were trimmed from the stream before this subscriber
 * read them (it was away longer than the stream's retention): they are lost to it. A cache
 * that relies on the bus should flush when it sees this.
 */
export class BusGapError extends SessionMeshError {
  readonly code = 'BUS_GAP'
  constructor(
    readonly after: string,
    readonly resumedAt: string,
  ) {
    super(`bus: events after ${after} were trimmed before they were read; resumed at ${resumedAt}`)
  }
}

/** A subscriber's handler threw; the event counts as delivered (the bus does not retry handlers). */
export class BusHandlerError extends SessionMeshError {
  readonly code = 'BUS_HANDLER'
  constructor(
    readonly eventId: string,
    options?: { cause?: unknown },
  ) {
    super(`bus handler failed on event ${eventId}`, options)
  }
}
