/**
 * The client a connection sends on, replaced when a command on it timed out: the late
 * command may still be queued on that socket, and everything sent after it would wait
 * behind it, so the old client is dropped (rejecting what waits on it) and a duplicate (same
 * options) connects in the background. Only a client sessionmesh made is replaced; a client
 * you passed in is yours (give it `socket.socketTimeout` and `pingInterval` so node-redis
 * drops a silent socket itself).
 */
import { type Connectable, connectOwn } from './client.js'

export interface Recycler<C> {
  readonly current: C
  /** Replaces `from` if it is still the current client (many commands time out together; one replacement). */
  recycle(from: C): void
}

type Duplicable<C> = Connectable & { duplicate(): C }

export function recycler<C extends Duplicable<C>>(first: C, owned: boolean, onError: (e: Error) => void): Recycler<C> {
  let current = first
  return {
    get current() {
      return current
    },
    recycle(from) {
      if (!owned || from !== current) return
      current = from.duplicate()
      // node-redis retries the connection by itself until the server answers; errors go to onError.
      connectOwn(current, onError).catch(onError)
      Promise.resolve(from.destroy()).catch(onError)
    },
  }
}
