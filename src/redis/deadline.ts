/**
 * A deadline over the whole wait for a reply. node-redis' own per-command `timeout` and
 * `abortSignal` stop counting once the command is written to the socket (its commands queue
 * drops them at write), and `socketTimeout` is reset by every write, so none of them notices a
 * server that takes commands and never answers (paused, or behind a network black hole) while
 * traffic keeps flowing. The caller's `onLate` recycles the connection the late command sits on.
 */
import { CommandTimeoutError } from '../core/errors.js'

export function withDeadline<T>(reply: Promise<T>, timeoutMs: number, command: string, onLate: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new CommandTimeoutError(command, timeoutMs))
      onLate()
    }, timeoutMs)
  })
  // The abandoned reply settles later (or is rejected when the connection is dropped): never unhandled.
  reply.catch(() => {})
  return Promise.race([reply, late]).finally(() => clearTimeout(timer))
}
