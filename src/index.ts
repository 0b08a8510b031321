export { createSessions, Sessions } from './core/manager.js'
export type { SessionsOptions, StoreErrorPolicy, TokenHeaderOptions, SessionInfo } from './core/manager.js'
export { Session } from './core/session.js'
export type { RegenerateOptions, SessionLock, WithLockOptions } from './core/session.js'
export { storeLocks } from './core/lock.js'
export type { NearCacheStats } from './core/near-cache.js'
export type { SessionLockProvider, SessionLockStrategy, HeldLock } from './core/lock.js'
export type { SessionView } from './core/view.js'
export { RequestSession } from './core/request.js'
export type { RequestInfo } from './core/request.js'
export type { CookieOptions } from './core/cookies.js'
export type { CsrfOptions } from './core/csrf.js'
export type { EncryptionOptions } from './core/codec.js'
export type { Duration } from './core/duration.js'
export { SessionEvents } from './core/events.js'
export type { SessionEvent, SessionEventMap, DestroyReason, LockEvent } from './core/events.js'
export { failureResponse } from './core/failure.js'
export type { FailureResponse } from './core/failure.js'
export * from './core/errors.js'
export type {
  SessionStore,
  StoredSession,
  SessionDelta,
  AttributeChange,
  AtomicChange,
  ApplyConditions,
  ApplyResult,
  ScanPage,
  LoadOptions,
  StoreWatch,
  StoreWatchListener,
} from './core/store.js'
export { signedTokens } from './core/tokens.js'
export type { SessionTokens } from './core/tokens.js'
export type { LegacySession, LegacySessionSource } from './core/legacy.js'
export { expiryOf } from './core/store.js'
export { connectBus, BusLink } from './core/bus-bridge.js'
export type { ConnectBusOptions, RemoteEvent } from './core/bus-bridge.js'
export type { BusEvent, BusEventInput, BusEventType, BusHandler, BusOptions, BusStatus, ChangeBus, SubscribeOptions, Subscription } from './core/bus.js'
export { STORE_OPERATIONS, REQUIRED_OPERATIONS, LOCK_OPERATIONS, wrapStore } from './core/operations.js'
export type { StoreOperation, OperationHook } from './core/operations.js'
export { withFallbacks, applyByCompareAndSet, hasLocks } from './core/fallbacks.js'
export type { CompleteStore, ValueTranslation } from './core/fallbacks.js'
export { applyAtomic, isAtomic } from './core/ops.js'
export { memoryStore } from './stores/memory/index.js'
export type { MemoryStoreOptions } from './stores/memory/index.js'
export * from './cluster/index.js'
