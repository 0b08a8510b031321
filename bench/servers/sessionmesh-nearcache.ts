// Express 5 + sessionmesh on Redis with the change bus (a Redis Stream on the same server)
// and the near cache: same routes and answers as sessionmesh-redis.ts.
import type * as RedisStore from '../../src/stores/redis/index.js'
import { load, serve } from './sessionmesh-app.js'

const url = process.env.BENCH_REDIS_URL
if (!url) throw new Error('sessionmesh-nearcache: BENCH_REDIS_URL is not set (the runner starts a private redis-server)')
const { redisStore } = await load<typeof RedisStore>('stores/redis/index.js')

await serve(
  () => redisStore({ url, prefix: 'bench-nearcache:' }),
  (api) => ({
    bus: { bus: api.redisStreamBus({ redis: { url }, stream: 'bench-nearcache:events' }), instanceId: `bench-${process.pid}` },
    nearCache: { max: 100_000, ttl: '60s' },
  }),
)
