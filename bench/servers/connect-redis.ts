// Express 5 + express-session + connect-redis 9 on the runner's private redis-server
// (BENCH_REDIS_URL) through a node-redis 6 client: the documented configuration
// (resave: false, saveUninitialized: false; connect-redis defaults, touch on). Same routes
// and answers as express-session.ts.
import { RedisStore } from 'connect-redis'
import { createClient } from 'redis'
import { serve } from './express-session-app.js'

const url = process.env.BENCH_REDIS_URL
if (!url) throw new Error('connect-redis: BENCH_REDIS_URL is not set (the runner starts a private redis-server)')

const client = createClient({ url })
client.on('error', (e: Error) => process.stderr.write(`connect-redis bench server: redis error: ${e.message}\n`))
await client.connect()

// Its own prefix: the sessionmesh server shares this Redis.
serve(new RedisStore({ client, prefix: 'bench-connect-redis:' }), async () => {
  await client.close()
})
