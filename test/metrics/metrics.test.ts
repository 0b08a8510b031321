/**
 * sessionMetrics on a real prom-client registry and a real Express app: the store latency
 * histogram per operation and outcome, sessions_active from store.count (and its cache),
 * event counters, lock waits, cache stats, and the /metrics handler's exposition text.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import * as client from 'prom-client'
import { session } from '../../src/adapters/express/index.js'
import { createSessions, MissingDependencyError, ConfigurationError, memoryStore, STORE_OPERATIONS, type Sessions, type SessionStore, type StoreOperation } from '../../src/index.js'
import { delta, newId, sessionRecord } from '../../src/testing/index.js'
import { loadPromClient, sessionMetrics, type SessionMetrics } from '../../src/metrics/index.js'
import { sqliteStore } from '../../src/stores/sqlite/index.js'
import { type AppHandle, Client, listen } from '../../harness/http.js'
import { SECRET } from '../core/helpers.js'

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** The exposition text as samples (comments skipped). */
function parse(text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    assert.ok(m, `unparsable line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!
    out.push({ name: m[1]!, labels, value: Number(m[3]) })
  }
  return out
}

/** The value of one sample whose labels include `labels`; 0 when absent. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  return found.reduce((a, s) => a + s.value, 0)
}

let registry: client.Registry
let metrics: SessionMetrics
let sessions: Sessions
let app: AppHandle
let scrapeServer: AppHandle

async function scrape(): Promise<Sample[]> {
  const r = await fetch(`${scrapeServer.url}/metrics`)
  assert.equal(r.status, 200)
  assert.equal(r.headers.get('content-type'), registry.contentType)
  return parse(await r.text())
}

before(async () => {
  registry = new client.Registry()
  metrics = sessionMetrics({ client, registry, countCacheMs: 0 })
  sessions = createSessions({ store: metrics.instrument(sqliteStore({ path: ':memory:' })), secret: SECRET, sweepInterval: false })
  metrics.attach(sessions)
  const e = express()
  e.use(session(sessions))
  e.post('/login', (req, res, next) => {
    req.session.regenerate().then(() => {
      req.session.principal = typeof req.query.user === 'string' ? req.query.user : 'nobody'
      req.session.user = { name: req.query.user }
      res.json({ ok: true })
    }, next)
  })
  e.post('/cart', (req, res) => {
    req.session.cart = ['tea']
    res.json({ ok: true })
  })
  e.get('/me', (req, res) => {
    res.json({ user: (req.session.user as unknown) ?? null })
  })
  e.post('/logout', (req, res, next) => {
    req.session.destroy().then(() => res.json({ ok: true }), next)
  })
  app = await listen(createServer(e))
  scrapeServer = await listen(createServer(metrics.handler()))
})

after(async () => {
  await app?.close()
  await scrapeServer?.close()
  await sessions?.close()
})

describe('sessionMetrics with a real app', () => {
  it('counts store operations per operation and outcome, sessions active and events', async () => {
    const users = ['ann', 'ben', 'cat'].map((u) => ({ u, c: new Client(app.url) }))
    for (const { u, c } of users) {
      await c.post(`/cart`) // a new session with data: created
      await c.post(`/login?user=${u}`) // regenerate: id-changed (+ destroyed reason regenerate) and an update
      await c.get('/me')
    }
    await users[2]!.c.post('/logout')
    const s = await scrape()
    const H = 'sessionmesh_store_operation_duration_seconds_count'
    assert.equal(value(s, H, { store: 'sqlite', operation: 'create', outcome: 'ok' }), 3)
    assert.ok(value(s, H, { operation: 'load', outcome: 'ok' }) >= 6)
    assert.ok(value(s, H, { operation: 'changeId', outcome: 'ok' }) >= 3)
    assert.equal(value(s, H, { operation: 'destroy', outcome: 'ok' }), 1)
    // A histogram's buckets are cumulative: +Inf equals the count.
    assert.equal(
      value(s, 'sessionmesh_store_operation_duration_seconds_bucket', { operation: 'create', outcome: 'ok', le: '+Inf' }),
      value(s, H, { operation: 'create', outcome: 'ok' }),
    )
    assert.ok(value(s, 'sessionmesh_store_operation_duration_seconds_sum', { operation: 'load' }) > 0)
    assert.equal(value(s, 'sessionmesh_sessions_active'), 2)
    assert.equal(value(s, 'sessionmesh_sessions_created_total'), 3)
    assert.equal(value(s, 'sessionmesh_session_id_changes_total'), 3)
    assert.equal(value(s, 'sessionmesh_sessions_destroyed_total', { reason: 'destroy' }), 1)
    // The gauge counts during the scrape, after the histogram was written: it shows in the next one.
    assert.ok(value(await scrape(), H, { operation: 'count', outcome: 'ok' }) >= 1, 'the scrape counted through the instrumented store')
  })

  it('an operation that fails is recorded with its error code as outcome', async () => {
    await assert.rejects(sessions.store.apply('Q'.repeat(32), { attributes: new Map(), lastAccessedAt: Date.now(), expiresAt: Date.now() + 1000 }))
    const s = await scrape()
    assert.equal(value(s, 'sessionmesh_store_operation_duration_seconds_count', { operation: 'apply', outcome: 'session_not_found' }), 1)
  })

  it('lock events feed lock_wait_seconds by outcome', async () => {
    sessions.events.emit('lock', { id: 'x', waitedMs: 30, outcome: 'acquired', at: Date.now() })
    sessions.events.emit('lock', { id: 'x', waitedMs: 2000, outcome: 'timeout', at: Date.now() })
    const s = await scrape()
    assert.equal(value(s, 'sessionmesh_lock_wait_seconds_count', { outcome: 'acquired' }), 1)
    assert.equal(value(s, 'sessionmesh_lock_wait_seconds_bucket', { outcome: 'acquired', le: '0.05' }), 1)
    assert.equal(value(s, 'sessionmesh_lock_wait_seconds_sum', { outcome: 'timeout' }), 2)
  })

  it('cacheStats: hits, misses and entries read from the provider on scrape; removable', async () => {
    const stats = { hits: 7, misses: 3, entries: 5 }
    const remove = metrics.cacheStats(() => stats)
    let s = await scrape()
    assert.equal(value(s, 'sessionmesh_cache_hits_total', { cache: 'near' }), 7)
    assert.equal(value(s, 'sessionmesh_cache_misses_total', { cache: 'near' }), 3)
    assert.equal(value(s, 'sessionmesh_cache_entries', { cache: 'near' }), 5)
    stats.hits = 10
    s = await scrape()
    assert.equal(value(s, 'sessionmesh_cache_hits_total', { cache: 'near' }), 10)
    assert.throws(() => metrics.cacheStats(() => stats), ConfigurationError)
    remove()
    s = await scrape()
    assert.equal(s.filter((x) => x.labels.cache === 'near').length, 0)
  })

  it('text() returns the same exposition text', async () => {
    const text = await metrics.text()
    assert.match(text, /# TYPE sessionmesh_sessions_active gauge/)
    assert.match(text, /# TYPE sessionmesh_store_operation_duration_seconds histogram/)
    assert.equal(metrics.contentType, registry.contentType)
  })
})

describe('sessions_active caching and detaching', () => {
  it('reuses the count for countCacheMs, then counts again', async () => {
    const reg = new client.Registry()
    const m = sessionMetrics({ client, registry: reg, countCacheMs: 60_000, prefix: 'app_' })
    const sm = createSessions({ store: m.instrument(sqliteStore({ path: ':memory:' })), secret: SECRET, sweepInterval: false })
    const detach = m.attach(sm)
    try {
      const one = sm.newBlankSession()
      one.set('a', 1)
      await one.save()
      assert.equal(value(parse(await m.text()), 'app_sessions_active'), 1)
      const two = sm.newBlankSession()
      two.set('a', 2)
      await two.save()
      assert.equal(value(parse(await m.text()), 'app_sessions_active'), 1, 'cached')
      assert.equal(value(parse(await m.text()), 'app_store_operation_duration_seconds_count', { operation: 'count' }), 1, 'one count for two scrapes')
      assert.throws(() => m.attach(sm), ConfigurationError)
      detach()
      assert.equal(value(parse(await m.text()), 'app_sessions_created_total'), 2)
      sm.events.emit('created', { id: 'x', principal: null, at: 0 })
      assert.equal(value(parse(await m.text()), 'app_sessions_created_total'), 2, 'no longer listening')
    } finally {
      await sm.close()
    }
  })
})

describe('setup errors', () => {
  it('a second sessionMetrics on the same registry and prefix is a ConfigurationError', () => {
    const reg = new client.Registry()
    sessionMetrics({ client, registry: reg })
    assert.throws(() => sessionMetrics({ client, registry: reg }), ConfigurationError)
    sessionMetrics({ client, registry: reg, prefix: 'other_' })
  })

  it('prom-client missing: MissingDependencyError naming the package', () => {
    assert.throws(() => loadPromClient('prom-client-not-installed'), (e: unknown) => e instanceof MissingDependencyError && /npm install prom-client-not-installed/.test(e.message))
    assert.equal(typeof loadPromClient().Registry, 'function')
  })
})

describe('every store operation is timed', () => {
  /** One call of each operation of the contract: a new operation without a line here fails to compile. */
  const CALLS: Record<StoreOperation, (store: SessionStore, id: string) => Promise<unknown>> = {
    load: (s, id) => s.load(id, Date.now()),
    create: (s) => s.create(sessionRecord()),
    apply: (s, id) => s.apply(id, delta({ a: '1' })),
    destroy: (s) => s.destroy(newId()),
    changeId: (s) => s.changeId(newId(), newId(), Date.now()),
    touch: (s, id) => s.touch(id, Date.now(), Date.now() + 60_000),
    findByPrincipal: (s) => s.findByPrincipal('user:1', Date.now()),
    scan: (s) => s.scan({ limit: 10, now: Date.now() }),
    sweep: (s) => s.sweep(Date.now()),
    count: (s) => s.count!(Date.now()),
    lock: (s, id) => s.lock!(id, 'owner', 1_000, Date.now()),
    extendLock: (s, id) => s.extendLock!(id, 'owner', 1_000, Date.now()),
    unlock: (s, id) => s.unlock!(id, 'owner'),
    raiseFence: (s, id) => s.raiseFence!(id, Date.now()),
  }

  it(`each of the contract's ${STORE_OPERATIONS.length} operations lands in the latency histogram`, async () => {
    const reg = new client.Registry()
    const m = sessionMetrics({ client, registry: reg, prefix: 'ops_' })
    const store = m.instrument(memoryStore())
    const s = sessionRecord()
    await store.create(s)
    for (const operation of STORE_OPERATIONS) await CALLS[operation](store, s.id)
    const samples = parse(await m.text())
    const untimed = STORE_OPERATIONS.filter((operation) => value(samples, 'ops_store_operation_duration_seconds_count', { operation }) < 1)
    assert.deepEqual(untimed, [])
    await store.close()
  })
})
