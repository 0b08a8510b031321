import { EventEmitter } from 'node:events'

export interface SessionEvent {
  id: string
  principal: string | null
  /** Epoch ms when it happened. */
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
