// Express 5 + sessionmesh with its Redis store (no near cache) on the runner's private
// redis-server (BENCH_REDIS_URL); same routes and answers as sessionmesh.ts.
import type * as RedisStore from '../../src/stores/redis/index.js'
import { load, serve } from './sessionmesh-app.js'

const url = process.env.BENCH_REDIS_URL
if (!url) throw new Error('sessionmesh-redis: BENCH_REDIS_URL is not set (the runner starts a private redis-server)')
const { redisStore } = await load<typeof RedisStore>('stores/redis/index.js')

// Its own prefix: the connect-redis server shares this Redis.
await serve(() => redisStore({ url, prefix: process.env.BENCH_PREFIX ?? 'bench-sessionmesh:' }))
