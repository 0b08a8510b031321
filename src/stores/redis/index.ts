/**
 * `sessionmesh/redis`: the Redis store (`redisStore`, docs/REDIS.md), Redlock-style session
 * locks over independent masters (`quorumLocks`), and the change bus on a Redis Stream
 * (`redisStreamBus`, docs/BUS.md). Each needs the optional peer dependency `redis` (node-redis 6).
 */
export { redisStore } from './store.js'
export type { RedisStoreOptions } from './store.js'
export type { RedisTarget } from '../../redis/index.js'
export { bucketOf } from './keys.js'
export { quorumLocks } from './quorum-locks.js'
export type { QuorumLocksOptions } from './quorum-locks.js'
// The Redis Streams change bus ships with its backend's subpath.
export { redisStreamBus, compareStreamIds } from '../../cluster/bus/redis-streams.js'
export type { RedisStreamBusOptions } from '../../cluster/bus/redis-streams.js'
