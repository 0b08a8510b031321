/**
 * The Session API of issue 4 in one process on the memory store: atomic operations
 * (increment / append / merge, computed by the store, or by compare-and-set retries when
 * values are encrypted), set-if-version, and withLock (fenced save, nothing saved on failure,
 * timeouts, the `lock` event, the abort signal on a lost lease).
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { describe, it } from 'node:test'
import {
  AttributeTypeError,
  createSessions,
  type LockEvent,
  LockLostError,
  LockTimeoutError,
  memoryStore,
  type Session,
  SessionNotFoundError,
  type Sessions,
} from '../../src/index.js'
import { cookiePair, run, SECRET } from './helpers.js'

const KEY = 'atomic-tests-encryption-key-0123456789abcdef'

function make(encrypted = false): Sessions {
  return createSessions({ store: memoryStore(), secret: SECRET, sweepInterval: false, ...(encrypted ? { encryption: { keys: [KEY] } } : {}) })
}

/** A stored session with these attributes; its id. */
async function stored(sessions: Sessions, attributes: Record<string, unknown> = {}): Promise<string> {
  const rs = await run(sessions, undefined, (r) => {
    for (const [k, v] of Object.entries(attributes)) r.session.set(k, v)
    r.session.set('seed', true)
  })
  return rs.session.id
}

/** A fresh Session object for `id`, as another request or instance would load it. */
async function load(sessions: Sessions, id: string): Promise<Session> {
  const s = await sessions.get(id)
  assert.ok(s)
  return s
}

for (const encrypted of [false, true]) {
  describe(`atomic operations${encrypted ? ' with encryption on (compare-and-set retries)' : ' (computed by the store)'}`, () => {
    it('increment / append / merge return the new value and store it', async () => {
      const sessions = make(encrypted)
      const id = await stored(sessions, { n: 41, list: ['a'], prefs: { theme: 'dark', lang: 'en' } })
      const s = await load(sessions, id)
      assert.equal(await s.increment('n'), 42)
      assert.equal(await s.increment('n', -2.5), 39.5)
      assert.equal(await s.increment('fresh', 3), 3, 'absent counts as 0')
      assert.deepEqual(await s.append('list', { sku: 'b' }), ['a', { sku: 'b' }])
      assert.deepEqual(await s.append('none', 1), [1], 'absent counts as []')
      assert.deepEqual(await s.merge('prefs', { theme: 'light' }), { theme: 'light', lang: 'en' })
      assert.equal(s.get('n'), 39.5, 'the local view follows the store')
      const again = await load(sessions, id)
      assert.equal(again.get('n'), 39.5)
      assert.equal(again.get('fresh'), 3)
      assert.deepEqual(again.get('list'), ['a', { sku: 'b' }])
      assert.deepEqual(again.get('none'), [1])
      assert.deepEqual(again.get('prefs'), { theme: 'light', lang: 'en' })
      if (encrypted) {
        const raw = (await sessions.store.load(id, Date.now()))?.attributes.get('n')
        assert.ok(raw !== undefined && !raw.includes('39.5'), 'sealed at rest, not computed in clear by the store')
      }
    })

    it('on a new (unsaved) session: computed locally and the session is created', async () => {
      const sessions = make(encrypted)
      const rs = await sessions.open({ header: () => undefined, encrypted: false })
      assert.equal(rs.session.isNew, true)
      assert.equal(await rs.session.increment('n', 2), 2)
      assert.equal(rs.session.isNew, false, 'stored by the operation itself')
      assert.deepEqual(await rs.session.append('list', 'x'), ['x'])
      assert.deepEqual(await rs.session.merge('obj', { a: 1 }), { a: 1 })
      await rs.commit()
      const again = await load(sessions, rs.session.id)
      assert.equal(again.get('n'), 2)
      assert.deepEqual(again.get('list'), ['x'])
      assert.deepEqual(again.get('obj'), { a: 1 })
    })

    it('100 concurrent increments from 100 loaded sessions all count; concurrent merges keep every field', async () => {
      const sessions = make(encrypted)
      const id = await stored(sessions)
      const views = await Promise.all(Array.from({ length: 100 }, () => load(sessions, id)))
      const answers = await Promise.all(views.map((s) => s.increment('hits')))
      assert.deepEqual(
        answers.sort((a, b) => a - b),
        Array.from({ length: 100 }, (_, i) => i + 1),
        'every increment saw a different value',
      )
      assert.equal((await load(sessions, id)).get('hits'), 100)
      await Promise.all(views.slice(0, 20).map((s, i) => s.merge('m', { [`f${i}`]: i })))
      const merged = (await load(sessions, id)).get<Record<string, number>>('m') ?? {}
      assert.equal(Object.keys(merged).length, 20)
      await Promise.all(views.slice(0, 20).map((s, i) => s.append('log', i)))
      assert.deepEqual(((await load(sessions, id)).get<number[]>('log') ?? []).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i))
    })

    it('an operation on a value of the wrong type fails with AttributeTypeError and writes nothing', async () => {
      const sessions = make(encrypted)
      const id = await stored(sessions, { name: 'alice', list: [1], obj: {} })
      const s = await load(sessions, id)
      const version = s.version
      await assert.rejects(s.increment('name'), (e: unknown) => e instanceof AttributeTypeError && e.attribute === 'name' && e.expected === 'number')
      await assert.rejects(s.append('obj', 1), (e: unknown) => e instanceof AttributeTypeError && e.expected === 'array')
      await assert.rejects(s.merge('list', { a: 1 }), (e: unknown) => e instanceof AttributeTypeError && e.expected === 'object')
      const again = await load(sessions, id)
      assert.equal(again.version, version)
      assert.deepEqual([again.get('name'), again.get('list'), again.get('obj')], ['alice', [1], {}])
    })
  })
}

describe('setIfVersion', () => {
  it('stores only if nobody saved since the version read; false and nothing written otherwise', async () => {
    const sessions = make()
    const id = await stored(sessions, { x: 0 })
    const a = await load(sessions, id)
    const b = await load(sessions, id)
    assert.equal(await a.setIfVersion('x', 1), true)
    assert.equal(await b.setIfVersion('x', 2), false, 'b read before a saved')
    assert.equal((await load(sessions, id)).get('x'), 1)
    // An explicit version: the current one passes.
    const c = await load(sessions, id)
    assert.equal(await b.setIfVersion('x', 3, c.version), true)
    assert.equal((await load(sessions, id)).get('x'), 3)
  })

  it('false after another request’s plain save (a delta save bumps the version too)', async () => {
    const sessions = make(true)
    const id = await stored(sessions, { x: 0 })
    const a = await load(sessions, id)
    const other = await load(sessions, id)
    other.set('y', 'other')
    await other.save()
    assert.equal(await a.setIfVersion('x', 1), false)
    const again = await load(sessions, id)
    assert.deepEqual([again.get('x'), again.get('y')], [0, 'other'])
  })
})

describe('withLock', () => {
  it('saves the callback’s changes with the fence; re-reads under the lock first', async () => {
    const sessions = make()
    const id = await stored(sessions, { c: 1 })
    const stale = await load(sessions, id)
    const other = await load(sessions, id)
    other.set('c', 5)
    await other.save()
    const out = await stale.withLock(async ({ session, fence }) => {
      // The session was re-read under the lock: the other request's save is visible.
      const c = session.get<number>('c') ?? 0
      session.set('c', c + 1)
      return { c, fence }
    })
    assert.equal(out.c, 5)
    assert.ok(out.fence >= 1)
    const record = await sessions.store.load(id, Date.now())
    assert.equal(record?.fence, out.fence)
    assert.equal((await load(sessions, id)).get('c'), 6)
  })

  it('a callback error saves nothing, not even when the request commits; the session shows what is stored', async () => {
    const sessions = make()
    const first = await run(sessions, undefined, (r) => r.session.set('x', 'kept'))
    const failing = await run(sessions, cookiePair(first), async (r) => {
      await assert.rejects(
        r.session.withLock(async ({ session }) => {
          session.set('x', 'from the failed callback')
          session.set('y', 'also not')
          throw new Error('boom')
        }),
        /boom/,
      )
      // Still in the request: what the failed callback set must not be visible, or a later
      // save could persist something derived from it.
      assert.equal(r.session.get('x'), 'kept')
      assert.equal(r.session.has('y'), false)
    })
    const again = await load(sessions, failing.session.id)
    assert.equal(again.get('x'), 'kept')
    assert.equal(again.has('y'), false)
  })

  it('LockTimeoutError while another holder has it; the lock event reports acquired and timeout with waitedMs', async () => {
    const sessions = make()
    const id = await stored(sessions)
    const events: LockEvent[] = []
    sessions.events.on('lock', (e) => events.push(e))
    let release = () => {}
    const holding = new Promise<void>((r) => (release = r))
    let entered = () => {}
    const inside = new Promise<void>((r) => (entered = r))
    const holder = sessions.withLock(id, async () => {
      entered()
      await holding
    })
    await inside
    let ran = false
    await assert.rejects(
      sessions.withLock(id, async () => void (ran = true), { wait: 0 }),
      (e: unknown) => e instanceof LockTimeoutError && e.sessionId === id,
    )
    await assert.rejects(sessions.withLock(id, async () => void (ran = true), { wait: '30ms' }), LockTimeoutError)
    assert.equal(ran, false)
    release()
    await holder
    await sessions.withLock(id, async () => {}, { wait: 0 })
    assert.deepEqual(
      events.map((e) => e.outcome),
      ['acquired', 'timeout', 'timeout', 'acquired'],
    )
    for (const e of events) {
      assert.equal(e.id, id)
      assert.ok(Number.isFinite(e.waitedMs) && e.waitedMs >= 0)
    }
  })

  it('a lost lease aborts the signal with LockLostError and nothing the callback set is saved', async () => {
    const sessions = make()
    const id = await stored(sessions, { x: 'before' })
    let reason: unknown
    await assert.rejects(
      sessions.withLock(
        id,
        async ({ session, signal, fence }) => {
          // Block the event loop past the tiny lease, as a long GC pause would: no renewal runs.
          const end = Date.now() + 100
          while (Date.now() < end) {
            // spinning on purpose
          }
          // Another instance takes the expired lease; this holder's next renewal finds it gone.
          const other = await sessions.store.lock(id, 'another-instance', 10_000, Date.now())
          assert.ok(other !== null && other > fence)
          // The renewal timer is unref'd (it must not keep a process alive): hold the loop open meanwhile.
          const keepAlive = setInterval(() => {}, 1_000)
          try {
            await once(signal, 'abort')
          } finally {
            clearInterval(keepAlive)
          }
          reason = signal.reason
          session.set('x', 'after losing the lock')
        },
        { ttl: '30ms' },
      ),
      (e: unknown) => e instanceof LockLostError && e.sessionId === id,
    )
    assert.ok(reason instanceof LockLostError)
    assert.equal((await load(sessions, id)).get('x'), 'before')
    // The holder's release at the end left the other instance's lease alone.
    assert.equal(await sessions.store.unlock(id, 'another-instance'), true)
  })

  it('a plain save outside any lock is not blocked by a held lock (locks fence only lock holders)', async () => {
    const sessions = make()
    const id = await stored(sessions, { c: 0 })
    await sessions.withLock(id, async ({ session }) => {
      const outsider = await load(sessions, id)
      outsider.set('c', 100)
      await outsider.save()
      // The holder read before the outsider wrote; its save still goes through (fence not lower).
      session.set('c', (session.get<number>('c') ?? 0) + 1)
    })
    assert.equal((await load(sessions, id)).get('c'), 1, 'the outsider’s write was overwritten: locks only order lock holders')
  })

  it('withLock on a new session stores it first; sessions.withLock on an unknown id is SessionNotFoundError', async () => {
    const sessions = make()
    const rs = await sessions.open({ header: () => undefined, encrypted: false })
    rs.session.set('a', 1)
    const fence = await rs.session.withLock(async ({ session, fence }) => {
      session.set('b', 2)
      return fence
    })
    assert.equal(fence, 1)
    const again = await load(sessions, rs.session.id)
    assert.deepEqual([again.get('a'), again.get('b')], [1, 2])
    await assert.rejects(
      sessions.withLock(sessions.tokens.newId(), async () => {}),
      SessionNotFoundError,
    )
    await assert.rejects(
      sessions.withLock('not-an-id', async () => {}),
      SessionNotFoundError,
    )
  })
})
