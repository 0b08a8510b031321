// Express 5 + sessionmesh on Redis with the near cache, kept coherent by the Redis store's
// own change feed (the PUBLISH inside each write script), with no change bus: the
// configuration for a fleet that wants the cache and not the events. Same routes and
// answers as sessionmesh-redis.ts.
import type * as RedisStore from '../../src/stores/redis/index.js'
import { load, serve } from './sessionmesh-app.js'

const url = process.env.BENCH_REDIS_URL
if (!url) throw new Error('sessionmesh-nearcache: BENCH_REDIS_URL is not set (the runner starts a private redis-server)')
const { redisStore } = await load<typeof RedisStore>('stores/redis/index.js')

// BENCH_STEADY=1 (bench/instructions.ts, under valgrind, where a run lasts minutes): no
// cache expiry or touch falls inside the measurement.
const steady = process.env.BENCH_STEADY === '1'
await serve(
  () => redisStore({ url, prefix: process.env.BENCH_PREFIX ?? 'bench-nearcache:' }),
  () => ({ nearCache: { max: 100_000, ttl: steady ? '1h' : '60s' }, ...(steady ? { touchInterval: '1h' } : {}) }),
)
