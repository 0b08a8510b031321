import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  ConfigurationError,
  createSessions,
  InvalidAttributeError,
  memoryStore,
  SessionDestroyedError,
  type SessionDelta,
  SessionTooLargeError,
} from '../../src/index.js'
import { clock, cookiePair, recording, run, SECRET } from './helpers.js'

describe('session lifecycle through the manager', () => {
  it('creates nothing and sets no cookie until something is stored', async () => {
    const rec = recording(memoryStore())
    const sessions = createSessions({ store: rec.store, secret: SECRET, sweepInterval: false })
    const rs = await run(sessions, undefined, (rs) => rs.session.get('x'))
    assert.deepEqual(rs.responseHeaders(), [])
    assert.equal(rec.count('create'), 0)
    await sessions.close()
  })

  it('a save sends only the changed attributes, as one delta', async () => {
    const rec = recording(memoryStore())
    const sessions = createSessions({ store: rec.store, secret: SECRET, sweepInterval: false })
    const first = await run(sessions, undefined, (rs) => {
      rs.view.a = 1
      rs.view.b = { deep: [1, 2] }
      rs.view.c = 'keep'
    })
    const cookie = cookiePair(first)
    await run(sessions, cookie, (rs) => {
      rs.view.a = 2
      delete rs.view.c
      void rs.view.b // read only: must not be written
    })
    assert.equal(rec.count('apply'), 1)
    const delta = rec.calls.find((c) => c.method === 'apply')?.args[1] as SessionDelta
    assert.deepEqual([...delta.attributes.keys()].sort(), ['a', 'c'])
    assert.deepEqual(delta.attributes.get('c'), { op: 'delete' })
    await sessions.close()
  })

  it('notices in-place mutation of an object value (express-session style) and saves just that attribute', async () => {
    const rec = recording(memoryStore())
    const sessions = createSessions({ store: rec.store, secret: SECRET, sweepInterval: false })
    const cookie = cookiePair(await run(sessions, undefined, (rs) => (rs.view.cart = { items: ['a'] })))
    await run(sessions, cookie, (rs) => (rs.view.cart as { items: string[] }).items.push('b'))
    const delta = rec.calls.find((c) => c.method === 'apply')?.args[1] as SessionDelta
    assert.deepEqual([...delta.attributes.keys()], ['cart'])
    await run(sessions, cookie, (rs) => assert.deepEqual(rs.view.cart, { items: ['a', 'b'] }))
    await sessions.close()
  })

  it('read-only requests write nothing within touchInterval, then the touch rides along with the load', async () => {
    const t = clock()
    const rec = recording(memoryStore())
    const sessions = createSessions({ store: rec.store, secret: SECRET, now: t.now, touchInterval: '60s', sweepInterval: false })
    const cookie = cookiePair(await run(sessions, undefined, (rs) => (rs.view.user = 'u')))
    for (let i = 0; i < 10; i++) {
      t.advance(1_000)
      await run(sessions, cookie, (rs) => rs.view.user)
    }
    assert.equal(rec.count('touch') + rec.count('apply'), 0)
    const loadsBefore = rec.count('load')
    t.advance(60_000)
    await run(sessions, cookie, (rs) => rs.view.user)
    assert.equal(rec.count('load'), loadsBefore + 1)
    assert.equal(rec.count('touch') + rec.count('apply'), 0, 'no second store call')
    const id = sessions.tokens.read(decodeURIComponent(cookie!.split('=')[1]!))!.id
    assert.equal((await sessions.store.load(id, t.now()))?.lastAccessedAt, t.now(), 'the access was recorded by the load')
    await sessions.close()
  })

  it('values that JSON cannot hold are refused with a typed error; undefined deletes', async () => {
    const sessions = createSessions({ secret: SECRET, sweepInterval: false })
    const rs = await sessions.open({ header: () => undefined, encrypted: false })
    assert.throws(() => rs.session.set('f', () => 1), InvalidAttributeError)
    assert.throws(() => rs.session.set('b', 10n), InvalidAttributeError)
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    assert.throws(() => rs.session.set('c', cyclic), InvalidAttributeError)
    assert.throws(() => rs.session.set('', 1), InvalidAttributeError)
    assert.throws(() => rs.session.set('x'.repeat(257), 1), InvalidAttributeError)
    rs.view.gone = 1
    rs.view.gone = undefined
    assert.equal(rs.session.has('gone'), false)
    await sessions.close()
  })

  it('refuses to grow a session past maxSize, on set and on in-place mutation', async () => {
    const sessions = createSessions({ secret: SECRET, maxSize: 1_000, sweepInterval: false })
    const cookie = cookiePair(await run(sessions, undefined, (rs) => (rs.view.list = ['x'])))
    const rs = await sessions.open({ header: (n) => (n === 'cookie' ? cookie : undefined), encrypted: false })
    assert.throws(() => rs.session.set('big', 'y'.repeat(2_000)), (e: unknown) => {
      assert.ok(e instanceof SessionTooLargeError)
      assert.equal(e.status, 413)
      assert.equal(e.code, 'SESSION_TOO_LARGE')
      return true
    })
    assert.equal(rs.session.has('big'), false)
    ;(rs.view.list as string[]).push('z'.repeat(2_000))
    await assert.rejects(rs.commit(), SessionTooLargeError)
    await sessions.close()
  })

  it('prototype-named attributes are plain data through the property view', async () => {
    const sessions = createSessions({ secret: SECRET, sweepInterval: false })
    const cookie = cookiePair(
      await run(sessions, undefined, (rs) => {
        const view: Record<string, unknown> = rs.view
        view.__proto__ = { polluted: true }
        view['constructor'] = 'c'
        view.prototype = 'p'
      }),
    )
    await run(sessions, cookie, (rs) => {
      assert.deepEqual(rs.session.get('__proto__'), { polluted: true })
      assert.equal(rs.view.constructor, 'c')
      assert.equal(rs.view.prototype, 'p')
      assert.deepEqual(Object.keys(rs.view).sort(), ['__proto__', 'constructor', 'prototype'])
      assert.equal(Object.getPrototypeOf(rs.view.__proto__), Object.prototype)
    })
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
    await sessions.close()
  })

  it('a session destroyed elsewhere mid-request is not resurrected by its save', async () => {
    const sessions = createSessions({ secret: SECRET, sweepInterval: false })
    const cookie = cookiePair(await run(sessions, undefined, (rs) => (rs.view.user = 'u')))
    const rs = await run(sessions, cookie, async (rs) => {
      await sessions.destroy(rs.session.id)
      rs.view.more = 'after revoke'
    })
    assert.equal(rs.session.destroyed, true)
    assert.match(rs.responseHeaders()[0]?.[1] ?? '', /Expires=Thu, 01 Jan 1970/)
    assert.equal(await sessions.get(rs.session.id), null)
    await sessions.close()
  })

  it('destroy() ends the session, clears the cookie, and refuses later writes', async () => {
    const sessions = createSessions({ secret: SECRET, sweepInterval: false })
    const cookie = cookiePair(await run(sessions, undefined, (rs) => (rs.view.user = 'u')))
    const rs = await run(sessions, cookie, async (rs) => {
      await rs.session.destroy()
      assert.throws(() => (rs.view.x = 1), SessionDestroyedError)
    })
    assert.match(cookiePair(rs) ?? '', /^sid=$/)
    const again = await run(sessions, cookie)
    assert.equal(again.session.isNew, true)
    await sessions.close()
  })

  it('save(), reload() and touch() work mid-request, with callbacks too', async () => {
    const rec = recording(memoryStore())
    const sessions = createSessions({ store: rec.store, secret: SECRET, sweepInterval: false })
    const cookie = cookiePair(await run(sessions, undefined, (rs) => (rs.view.n = 1)))
    await run(sessions, cookie, async (rs) => {
      rs.view.n = 2
      const saveError = await new Promise<unknown>((resolve) => {
        rs.session.save(resolve)
      })
      assert.equal(saveError, undefined)
      assert.equal((await sessions.get(rs.session.id))?.get('n'), 2)
      rs.view.n = 3
      await rs.session.reload()
      assert.equal(rs.view.n, 2)
      rs.session.touch()
    })
    assert.equal(rec.count('touch'), 1)
    await sessions.close()
  })

  it('rejects weak configuration with typed errors that never echo the secret', () => {
    assert.throws(() => createSessions({ secret: 'short-secret' }), (e: unknown) => {
      assert.ok(e instanceof ConfigurationError)
      assert.ok(!e.message.includes('short-secret'))
      return true
    })
    assert.throws(() => createSessions({ secret: [] }), ConfigurationError)
    assert.throws(() => createSessions({ secret: SECRET, idleTimeout: 'soon' as never }), ConfigurationError)
    assert.throws(() => createSessions({ secret: SECRET, cookie: false }), ConfigurationError)
  })
})
