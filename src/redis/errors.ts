/**
 * What a Redis failure means to a caller: the client's failures as StoreUnavailableError, a
 * store script's refusals (error replies `SESSIONMESH_<WHAT> <detail>`) as their typed errors.
 * Shared by every store layout on Redis.
 */
import {
  AttributeTypeError,
  SessionExistsError,
  SessionMeshError,
  SessionNotFoundError,
  SessionTooLargeError,
  StaleFenceError,
  StoreUnavailableError,
  VersionConflictError,
} from '../core/errors.js'
import type { ApplyConditions } from '../core/store.js'

/** Client failures (connection refused, reset, timeouts, failover in progress) as StoreUnavailableError; our own errors as they are. */
export function unavailable(e: unknown, what: string): Error {
  if (e instanceof SessionMeshError) return e
  return new StoreUnavailableError(`redis store: ${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
}

/** A store script's refusal as its typed error; anything else from the client as StoreUnavailableError. */
export function scriptRefusal(e: unknown, id: string, conditions: ApplyConditions = {}): Error {
  const message = e instanceof Error ? e.message.replace(/^ERR /, '') : ''
  if (message === 'SESSIONMESH_EXISTS') return new SessionExistsError(id)
  if (message === 'SESSIONMESH_NOT_FOUND') return new SessionNotFoundError(id)
  if (message.startsWith('SESSIONMESH_VERSION ')) {
    return new VersionConflictError(id, conditions.expectedVersion ?? -1, Number(message.slice(20)))
  }
  if (message.startsWith('SESSIONMESH_FENCE ')) return new StaleFenceError(id, conditions.fence ?? -1, Number(message.slice(18)))
  const type = /^SESSIONMESH_TYPE (number|array|object) ([\s\S]*)$/.exec(message)
  if (type) return new AttributeTypeError(type[2] as string, type[1] as 'number' | 'array' | 'object')
  const large = /^SESSIONMESH_TOO_LARGE (\d+) (\d+)$/.exec(message)
  if (large) return new SessionTooLargeError(Number(large[1]), Number(large[2]))
  return unavailable(e, 'command failed')
}
