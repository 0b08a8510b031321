import { redactId, SessionMeshError, StoreUnavailableError } from '../core/errors.js'

/**
 * One node of a `shardedStore` failed (down, unreachable, or its store threw something that
 * is not a store refusal). Only the sessions that node owns are affected. It is a
 * `StoreUnavailableError`, so `onStoreError` and the 503 answer apply unchanged; `node` names
 * the node, `cause` holds the node store's own error, and the message never carries a
 * session id (ids are credentials).
 *
 * @example
 * try { await store.load(id, Date.now()) } catch (e) {
 *   if (e instanceof NodeUnavailableError) log.warn(`session node ${e.node} is down`)
 * }
 */
export class NodeUnavailableError extends StoreUnavailableError {
  override readonly code = 'NODE_UNAVAILABLE'
  constructor(
    readonly node: string,
    readonly operation: string,
    cause: unknown,
    /** The session concerned, if any: only used to redact it from the cause's message. */
    sessionId?: string,
  ) {
    super(`shardedStore: node "${node}" is unavailable (${operation}): ${causeText(cause, sessionId)}`, { cause })
  }
}

/**
 * `addNode` or `removeNode` while an earlier change is still moving sessions: one rebalance at
 * a time, so a read never has more than one previous owner to fall back to.
 *
 * @example
 * await store.rebalance?.done
 * store.addNode('redis-e', redisStore({ url }))
 */
export class RebalanceInProgressError extends SessionMeshError {
  readonly code = 'REBALANCE_IN_PROGRESS'
  override readonly status = 409
  constructor() {
    super('shardedStore: a rebalance is still in progress; await store.rebalance.done before changing the nodes again')
  }
}

function causeText(cause: unknown, sessionId: string | undefined): string {
  const text = cause instanceof Error ? cause.message : String(cause)
  // A node store may name the session in its own message; ours must not.
  return sessionId && sessionId.length > 0 ? text.split(sessionId).join(redactId(sessionId)) : text
}
