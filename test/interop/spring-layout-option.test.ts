// redisStore({ layout: 'spring-session' }): the public way to the Spring layout, through an app.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import { createSessions } from '../../src/index.js'
import { springSessionTokens } from '../../src/interop/index.js'
import { redisStore } from '../../src/stores/redis/index.js'
import { startExpress } from '../adapters/express-app.js'
import { Client } from '../../harness/http.js'
import { cli, startRedis, type RedisProcess } from '../../harness/redis.js'

let redis: RedisProcess
before(async () => {
  redis = await startRedis()
})
after(async () => {
  await redis?.stop()
})

describe("redisStore({ layout: 'spring-session' })", () => {
  it("logs in through an app and leaves Spring's hash, index and base64 SESSION cookie", async () => {
    const sessions = createSessions({
      store: redisStore({ url: redis.url, layout: 'spring-session' }),
      tokens: springSessionTokens(),
      cookie: { name: 'SESSION' },
      sweepInterval: false,
    })
    const handle = await startExpress(() => express())(sessions)
    try {
      const c = new Client(handle.url, 'SESSION')
      await c.post('/login?user=alice')
      const id = Buffer.from(decodeURIComponent(c.token!), 'base64').toString('utf8')
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUID, as Spring makes them')
      const fields = (await cli(redis.port, 'HKEYS', `spring:session:sessions:${id}`)).split('\n')
      for (const f of ['creationTime', 'lastAccessedTime', 'maxInactiveInterval', 'sessionAttr:user']) assert.ok(fields.includes(f), `hash has ${f}`)
      assert.equal(await cli(redis.port, 'HGET', `spring:session:sessions:${id}`, 'sessionAttr:user'), '"alice"')
      assert.equal((await c.get('/get?k=user')).body.value, 'alice')
      assert.equal((await sessions.findByPrincipal('user:alice')).length, 1)
    } finally {
      await handle.close()
      await sessions.close()
    }
  })

  it('refuses options it cannot honour', () => {
    assert.throws(() => redisStore({ url: redis.url, layout: 'spring-session', durability: 'replicated' }), { code: 'CONFIGURATION' })
  })
})
