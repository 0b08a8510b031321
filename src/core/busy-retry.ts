/**
 * Retrying a short synchronous attempt while a shared resource is busy, with the waiting done
 * by timers rather than inside the attempt. An embedded driver's own busy wait (SQLite's
 * `busy_timeout`) sleeps on the calling thread, which in Node is the event loop: one request
 * waiting for another process's lock would freeze every other request of the process. Here
 * each attempt gives up at once when busy, and the process serves other work between attempts.
 */
import { setTimeout as sleep } from 'node:timers/promises'

export interface BusyRetryOptions {
  /** Whether a thrown error means "busy, try again" (anything else is thrown at once). */
  isBusy(error: unknown): boolean
  /** How long to keep trying, from the first attempt, ms. 0: a single attempt. */
  deadlineMs: number
  /** Whether to keep going (false once the resource is closed): the last error is thrown. */
  alive?: () => boolean
}

/** First backoff step, ms: an ordinary write lock is held for about a millisecond. */
const FIRST_MS = 2
/** Largest step, ms: bounds the delay between the lock's release and the next attempt. */
const MAX_MS = 50

/**
 * Runs `attempt` until it returns or throws something not busy; while busy, waits a jittered,
 * growing delay (2 ms doubling up to 50 ms; jitter spreads processes and requests that
 * collided) and tries again, until `deadlineMs` has passed: then the last busy error is thrown.
 * `attempt` must be safe to repeat: for a store, one whole transaction that rolled back.
 */
export async function retryWhileBusy<T>(attempt: () => T, options: BusyRetryOptions): Promise<T> {
  const deadline = Date.now() + options.deadlineMs
  for (let step = FIRST_MS; ; step = Math.min(MAX_MS, step * 2)) {
    try {
      return attempt()
    } catch (e) {
      if (!options.isBusy(e)) throw e
      const left = deadline - Date.now()
      if (left <= 0 || options.alive?.() === false) throw e
      await sleep(Math.min(left, step / 2 + Math.random() * (step / 2)))
    }
  }
}
