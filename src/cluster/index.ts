export { HashRing, DEFAULT_VNODES } from './hash-ring.js'
export type { Ring, HashRingOptions, NodeOptions, NodeSpec } from './hash-ring.js'
export { BoundedLoadRing, DEFAULT_LOAD_FACTOR } from './bounded-load.js'
export type { BoundedLoadRingOptions } from './bounded-load.js'
export { RendezvousHash } from './rendezvous.js'
export type { RendezvousHashOptions } from './rendezvous.js'
export { murmur3 } from './hash.js'
export { redisStreamBus, sqliteBus, connectBus, BusLink, compareStreamIds } from './bus/index.js'
export { BusClosedError, BusGapError, BusHandlerError, BusUnavailableError, MalformedEventError } from './bus/index.js'
export type {
  BusEvent,
  BusEventInput,
  BusEventType,
  BusHandler,
  BusOptions,
  BusStatus,
  ChangeBus,
  SubscribeOptions,
  Subscription,
  RedisStreamBusOptions,
  SqliteBusOptions,
  ConnectBusOptions,
  RemoteEvent,
} from './bus/index.js'
export { shardedStore } from './sharded-store.js'
export type { ShardedStore, ShardedStoreControl, ShardedStoreOptions, ShardNode, Rebalance, RebalanceProgress, MoveOutcome } from './sharded-store.js'
export { NodeUnavailableError, RebalanceInProgressError } from './errors.js'
export { sessionAffinity, cookieValue } from './affinity.js'
export type { SessionAffinity, SessionAffinityOptions, AffinitySessions } from './affinity.js'
