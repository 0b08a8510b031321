import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  createSessions,
  failureResponse,
  memoryStore,
  type SessionEventMap,
  type SessionStore,
  StoreUnavailableError,
} from '../../src/index.js'
import { clock, cookiePair, request, run, SECRET } from './helpers.js'

function collect(sessions: ReturnType<typeof createSessions>) {
  const seen: Array<{ type: keyof SessionEventMap; id: string; reason?: string }> = []
  sessions.events.on('created', (e) => seen.push({ type: 'created', id: e.id }))
  sessions.events.on('destroyed', (e) => seen.push({ type: 'destroyed', id: e.id, reason: e.reason }))
  sessions.events.on('expired', (e) => seen.push({ type: 'expired', id: e.id }))
  sessions.events.on('id-changed', (e) => seen.push({ type: 'id-changed', id: e.id }))
  return seen
}

/** A store whose every operation fails as a dead connection would. */
function downStore(): SessionStore {
  const fail = async () => {
    throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6390'), { code: 'ECONNREFUSED' })
  }
  return {
    kind: 'down',
    load: fail,
    create: fail,
    apply: fail,
    lock: fail,
    extendLock: fail,
    unlock: fail,
    raiseFence: fail,
    touch: fail,
    destroy: fail,
    changeId: fail,
    findByPrincipal: fail,
    scan: fail,
    sweep: fail,
    count: fail,
    close: async () => {},
  }
}

describe('events', () => {
  it('emits created, id-changed, destroyed and expired (each expiry exactly once)', async () => {
    const t = clock()
    const sessions = createSessions({ secret: SECRET, now: t.now, idleTimeout: '1m', sweepInterval: false })
    const seen = collect(sessions)
    const a = await run(sessions, undefined, (rs) => (rs.view.x = 1))
    const b = await run(sessions, undefined, (rs) => (rs.view.x = 2))
    const renamed = await run(sessions, cookiePair(a), (rs) => rs.session.regenerate())
    await run(sessions, cookiePair(renamed), (rs) => rs.session.destroy())
    t.advance(2 * 60_000)
    assert.equal(await sessions.sweep(), 1)
    assert.equal(await sessions.sweep(), 0)
    assert.deepEqual(
      seen.map((e) => e.type),
      ['created', 'created', 'id-changed', 'destroyed', 'expired'],
    )
    assert.equal(seen[4]?.id, b.session.id)
    assert.equal(seen[3]?.reason, 'destroy')
    await sessions.close()
  })
})

describe('principals', () => {
  it('lists a user’s sessions and logs them out everywhere', async () => {
    const sessions = createSessions({ secret: SECRET, sweepInterval: false })
    const seen = collect(sessions)
    const login = (ua: string) =>
      run(sessions, undefined, (rs) => {
        rs.session.principal = 'user:42'
        rs.view.userAgent = ua
      })
    const phone = await login('phone')
    await login('laptop')
    const other = await run(sessions, undefined, (rs) => (rs.session.principal = 'user:7'))
    const mine = await sessions.findByPrincipal('user:42')
    assert.deepEqual(mine.map((s) => s.get('userAgent')).sort(), ['laptop', 'phone'])
    assert.equal(await sessions.revokePrincipal('user:42'), 2)
    assert.equal((await run(sessions, cookiePair(phone))).session.isNew, true)
    assert.equal((await sessions.findByPrincipal('user:42')).length, 0)
    assert.equal((await run(sessions, cookiePair(other))).session.principal, 'user:7')
    assert.equal(seen.filter((e) => e.reason === 'revoked').length, 2)
    await sessions.close()
  })
})

describe('store failure', () => {
  it('fails with a typed StoreUnavailableError that adapters turn into a 503 with a clear message', async () => {
    const sessions = createSessions({ store: downStore(), secret: SECRET, sweepInterval: false })
    const token = cookiePair(await run(createSessions({ secret: SECRET, sweepInterval: false }), undefined, (rs) => (rs.view.x = 1)))
    const error = await sessions.open(request({ cookie: token as string })).then(
      () => null,
      (e: unknown) => e,
    )
    assert.ok(error instanceof StoreUnavailableError)
    assert.equal(error.code, 'STORE_UNAVAILABLE')
    assert.match(String((error.cause as Error).message), /ECONNREFUSED/)
    const response = failureResponse(error)
    assert.equal(response.status, 503)
    assert.equal(response.headers['retry-after'], '1')
    assert.match(response.body, /session store unavailable/)
    await sessions.close()
  })

  it("with onStoreError: 'continue' the request runs on an empty session that is never saved", async () => {
    const errors: Error[] = []
    const sessions = createSessions({ store: downStore(), secret: SECRET, onStoreError: 'continue', sweepInterval: false })
    sessions.events.on('error', (e) => errors.push(e))
    const token = cookiePair(await run(createSessions({ secret: SECRET, sweepInterval: false }), undefined, (rs) => (rs.view.x = 1)))
    const rs = await sessions.open(request({ cookie: token as string }))
    assert.equal(rs.detached, true)
    rs.view.y = 1
    await rs.commit()
    assert.deepEqual(rs.responseHeaders(), [])
    assert.equal(errors.length, 1)
    await sessions.close()
  })

  it('a sweep against a dead store reports the error and does not throw', async () => {
    const errors: Error[] = []
    const sessions = createSessions({ store: downStore(), secret: SECRET, sweepInterval: false })
    sessions.events.on('error', (e) => errors.push(e))
    assert.equal(await sessions.sweep(), 0)
    assert.ok(errors[0] instanceof StoreUnavailableError)
    await sessions.close()
  })

  it('close() lets a sweep under way finish and report what it removed before the store closes', async () => {
    const t = clock()
    const inner = memoryStore()
    // Like a real connection: a sweep still running when its store closes loses its reply.
    let release = () => {}
    let closed = false
    const store: SessionStore = {
      ...inner,
      sweep: async (now, limit) => {
        const swept = await inner.sweep(now, limit)
        await new Promise<void>((resolve) => (release = resolve))
        if (closed) throw new StoreUnavailableError('closed while sweeping')
        return swept
      },
      close: async () => {
        closed = true
        await inner.close()
      },
    }
    const sessions = createSessions({ store, secret: SECRET, now: t.now, idleTimeout: '1m', sweepInterval: false })
    const seen = collect(sessions)
    await run(sessions, undefined, (rs) => (rs.view.x = 1))
    t.advance(2 * 60_000)
    const sweeping = sessions.sweep()
    await new Promise((resolve) => setImmediate(resolve))
    const closing = sessions.close()
    release()
    await closing
    assert.equal(await sweeping, 1)
    assert.equal(seen.filter((e) => e.type === 'expired').length, 1)
    assert.equal(await sessions.sweep(), 0, 'a closed manager starts no sweep')
  })

  it('requests without a cookie never touch the store, so they survive an outage', async () => {
    const sessions = createSessions({ store: downStore(), secret: SECRET, sweepInterval: false })
    const rs = await sessions.open(request())
    assert.equal(rs.session.isNew, true)
    await sessions.close()
  })

  it('the sweeper timer runs by itself and emits expired', async () => {
    const store = memoryStore()
    const t = clock()
    const sessions = createSessions({ store, secret: SECRET, now: t.now, idleTimeout: '1m', sweepInterval: 20 })
    const expired = new Promise<string>((resolve) => sessions.events.once('expired', (e) => resolve(e.id)))
    const rs = await run(sessions, undefined, (rs) => (rs.view.x = 1))
    t.advance(61_000)
    // The sweeper's timer is unref'd (it never keeps a process alive); hold the loop open meanwhile.
    const keepAlive = setTimeout(() => {}, 10_000)
    assert.equal(await expired, rs.session.id)
    clearTimeout(keepAlive)
    await sessions.close()
  })
})
