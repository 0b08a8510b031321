import { EventEmitter } from 'node:events'

export interface SessionEvent {
  id: string
  principal: string | null
  /** Epoch ms when it happened. */
  at: number
}

export interface LockEvent {
  id: string
  waitedMs: number
  outcome: 'acquired' | 'timeout'
  at: number
}

/** Why a session ended before its time. */
export type DestroyReason = 'destroy' | 'revoked' | 'regenerate' | 'evicted'

/** Events a `Sessions` instance emits; the change bus later carries the same shapes between instances. */
export interface SessionEventMap {
  created: [SessionEvent]
  destroyed: [SessionEvent & { reason: DestroyReason }]
  expired: [SessionEvent]
  'id-changed': [SessionEvent & { previousId: string }]
  /** A save or atomic operation changed these attributes (names only, never values). */
  updated: [SessionEvent & { keys: string[] }]
  /** A session lock was asked for: how long it waited and how it ended. */
  lock: [LockEvent]
  /** Background failures (a sweep, a save after the headers went out). Never thrown at you. */
  error: [Error]
}

/**
 * A typed emitter of session events.
 *
 * @example
 * sessions.events.on('expired', ({ id, principal }) => audit.log('expired', principal))
 */
export class SessionEvents extends EventEmitter<SessionEventMap> {
  /** Emits `error` only when someone listens, so a background failure never crashes the process. */
  reportError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error)
  }
}
