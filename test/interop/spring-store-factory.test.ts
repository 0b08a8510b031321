// springSessionStore(options) from sessionmesh/interop: the public way to Spring Session's
// layout, connecting like redisStore (url | cluster | sentinel | client), through an app;
// and redisStore pointing whoever still passes `layout: 'spring-session'` to it.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import { createClient } from 'redis'
import { withFallbacks } from '../../src/core/fallbacks.js'
import { createSessions } from '../../src/index.js'
import { springSessionStore, springSessionTokens } from '../../src/interop/index.js'
import { redisStore } from '../../src/stores/redis/index.js'
import { startExpress } from '../adapters/express-app.js'
import { Client } from '../../harness/http.js'
import { cli, freePort, startRedis, type RedisProcess } from '../../harness/redis.js'

let redis: RedisProcess
before(async () => {
  redis = await startRedis()
})
after(async () => {
  await redis?.stop()
})

describe('springSessionStore(options)', () => {
  it("logs in through an app and leaves Spring's hash, index and base64 SESSION cookie", async () => {
    const sessions = createSessions({
      store: springSessionStore({ url: redis.url }),
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

  it("does not declare `atomic`: concurrent increments count exactly through the core's compare-and-set", async () => {
    const store = springSessionStore({ url: redis.url, namespace: 'cas:spring:session' })
    assert.equal((store as { atomic?: boolean }).atomic, undefined)
    const complete = withFallbacks(store)
    try {
      const now = Date.now()
      const id = randomUUID()
      await store.create({
        id, attributes: new Map([['n', '0']]), createdAt: now, lastAccessedAt: now, idIssuedAt: now,
        idleTimeoutMs: 60_000, absoluteTimeoutMs: 3_600_000, expiresAt: now + 60_000, principal: null, version: 1, fence: 0,
      })
      const increment = () => complete.apply(id, { attributes: new Map([['n', { op: 'increment', by: 1 }]]), lastAccessedAt: Date.now(), expiresAt: Date.now() + 60_000 })
      const results = await Promise.all(Array.from({ length: 50 }, increment))
      assert.deepEqual(results.map((r) => Number(r.values?.get('n'))).sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i + 1))
      const loaded = await store.load(id, Date.now())
      assert.equal(loaded?.attributes.get('n'), '50')
      assert.equal(loaded?.version, 51)
      assert.equal(await cli(redis.port, 'HGET', `cas:spring:session:sessions:${id}`, 'sessionAttr:n'), '50', 'a plain number for Jackson')
    } finally {
      await store.close()
    }
  })

  it('takes a node-redis client, and leaves it open on close', async () => {
    const client = createClient({ url: redis.url })
    await client.connect()
    try {
      const store = springSessionStore({ client, namespace: 'client:spring:session' })
      assert.equal(await store.count(Date.now()), 0)
      await store.close()
      assert.equal(client.isOpen, true)
      assert.equal(await client.ping(), 'PONG')
    } finally {
      await client.close()
    }
  })

  it('is created without waiting for Redis; a call fails with StoreUnavailableError once connectTimeoutMs has passed', async () => {
    const store = springSessionStore({ url: `redis://127.0.0.1:${await freePort()}`, connectTimeoutMs: 200 })
    try {
      await assert.rejects(store.load('a-spring-session-id-0123456789', Date.now()), { code: 'STORE_UNAVAILABLE' })
    } finally {
      await store.close()
    }
  })

  it('without the redis package, the first call fails with MissingDependencyError', () => {
    const preload = fileURLToPath(new URL('./fixtures/without-redis.mjs', import.meta.url))
    const app = fileURLToPath(new URL('./fixtures/spring-without-redis.ts', import.meta.url))
    const child = spawnSync(process.execPath, ['--import', preload, '--import', 'tsx', app], { encoding: 'utf8', timeout: 60_000 })
    assert.equal(child.status, 0, child.stderr)
    const result = JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}') as { name?: string; message?: string }
    assert.equal(result.name, 'MissingDependencyError', child.stdout)
    assert.match(result.message ?? '', /redis/)
    assert.match(result.message ?? '', /springSessionStore/)
  })
})

describe("redisStore({ layout: 'spring-session' })", () => {
  it('is refused, naming springSessionStore from sessionmesh/interop', () => {
    const options = { url: redis.url, layout: 'spring-session' } as unknown as Parameters<typeof redisStore>[0]
    assert.throws(() => redisStore(options), (e: unknown) => {
      assert.equal((e as { code?: string }).code, 'CONFIGURATION')
      assert.match((e as Error).message, /springSessionStore/)
      assert.match((e as Error).message, /sessionmesh\/interop/)
      return true
    })
  })
})
