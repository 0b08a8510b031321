import assert from 'node:assert/strict'
import { SessionExistsError, SessionNotFoundError, VersionConflictError } from '../core/errors.js'
import type { SessionStore } from '../core/store.js'
import { delta, newId, sessionRecord } from './records.js'
import type { TestRunner } from './runner.js'

/** The required operations: what every store must do itself. */
export function requiredConformance(t: TestRunner, store: () => SessionStore): void {
  t.it('creates and loads a session with all its fields', async () => {
    const s = sessionRecord({ principal: 'user:1' })
    await store().create(s)
    const loaded = await store().load(s.id, Date.now())
    assert.ok(loaded)
    assert.deepEqual(loaded, s)
  })

  t.it('returns null for an unknown id', async () => {
    assert.equal(await store().load(newId(), Date.now()), null)
  })

  t.it('refuses to create over an existing live id', async () => {
    const s = sessionRecord()
    await store().create(s)
    await assert.rejects(store().create(sessionRecord({ id: s.id })), SessionExistsError)
  })

  t.it('returned records are copies: mutating one changes nothing stored', async () => {
    const s = sessionRecord()
    await store().create(s)
    s.attributes.set('user', '"mallory"')
    const a = await store().load(s.id, Date.now())
    assert.ok(a)
    a.attributes.set('user', '"eve"')
    const b = await store().load(s.id, Date.now())
    assert.equal(b?.attributes.get('user'), '"alice"')
  })

  t.it('applies a delta to the named attributes only and bumps the version', async () => {
    const s = sessionRecord({ attributes: new Map([['a', '1'], ['b', '2'], ['c', '3']]) })
    await store().create(s)
    const now = Date.now() + 5
    const r = await store().apply(s.id, delta({ a: '10', b: null, d: '4' }, { lastAccessedAt: now, expiresAt: now + 1000 }))
    assert.equal(r.version, 2)
    const loaded = await store().load(s.id, now)
    assert.ok(loaded)
    assert.deepEqual(
      [...loaded.attributes].sort(),
      [
        ['a', '10'],
        ['c', '3'],
        ['d', '4'],
      ],
    )
    assert.equal(loaded.version, 2)
    assert.equal(loaded.lastAccessedAt, now)
    assert.equal(loaded.expiresAt, now + 1000)
    assert.equal(loaded.createdAt, s.createdAt)
  })

  t.it('never resurrects a destroyed session: apply after destroy fails and writes nothing', async () => {
    const s = sessionRecord()
    await store().create(s)
    assert.equal(await store().destroy(s.id), true)
    await assert.rejects(store().apply(s.id, delta({ x: '1' })), SessionNotFoundError)
    assert.equal(await store().load(s.id, Date.now()), null)
    assert.equal(await store().destroy(s.id), false)
  })

  t.it('refuses a delta to a session that has expired', async () => {
    const now = Date.now()
    const s = sessionRecord({ createdAt: now - 10_000, idleTimeoutMs: 1_000, expiresAt: now - 9_000 })
    await store().create(s).catch(() => {}) // a store may refuse to create an already-expired session
    await assert.rejects(store().apply(s.id, delta({ x: '1' })), SessionNotFoundError)
  })

  t.it('checks expectedVersion atomically (compare-and-set)', async () => {
    const s = sessionRecord()
    await store().create(s)
    await store().apply(s.id, delta({ x: '1' }), { expectedVersion: 1 })
    await assert.rejects(store().apply(s.id, delta({ x: '2' }), { expectedVersion: 1 }), (e: unknown) => {
      assert.ok(e instanceof VersionConflictError)
      assert.equal(e.actual, 2)
      return true
    })
    const loaded = await store().load(s.id, Date.now())
    assert.equal(loaded?.attributes.get('x'), '1')
  })

  t.it('only one of many concurrent compare-and-sets on one version wins', async () => {
    const s = sessionRecord()
    await store().create(s)
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => store().apply(s.id, delta({ x: String(i) }), { expectedVersion: 1 })),
    )
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
    assert.equal((await store().load(s.id, Date.now()))?.version, 2)
  })

  t.it('keeps every write when many deltas on different attributes overlap', async () => {
    const s = sessionRecord({ attributes: new Map() })
    await store().create(s)
    await Promise.all(Array.from({ length: 200 }, (_, i) => store().apply(s.id, delta({ [`k${i}`]: String(i) }))))
    const loaded = await store().load(s.id, Date.now())
    assert.equal(loaded?.attributes.size, 200)
    assert.equal(loaded?.version, 201)
  })

  t.it('stores attribute names that are JavaScript prototype keys as plain data', async () => {
    const s = sessionRecord({ attributes: new Map() })
    await store().create(s)
          // fromEntries defines own properties; an object literal's `__proto__:` would set the prototype
    const names = Object.fromEntries([
      ['__proto__', '{"polluted":true}'],
      ['constructor', '"c"'],
      ['prototype', '"p"'],
      ['a.b', '1'],
      ['', '0'],
    ])
    await store().apply(s.id, delta(names))
    const loaded = await store().load(s.id, Date.now())
    assert.equal(loaded?.attributes.get('__proto__'), '{"polluted":true}')
    assert.equal(loaded?.attributes.get('constructor'), '"c"')
    assert.equal(loaded?.attributes.get('prototype'), '"p"')
    assert.equal(loaded?.attributes.get('a.b'), '1')
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
  })

  t.it('stores unicode and large values unchanged', async () => {
    const big = JSON.stringify('x'.repeat(100_000))
    const s = sessionRecord({ attributes: new Map([['ü🙂', '"ünïcødé 🙂"'], ['big', big]]) })
    await store().create(s)
    const loaded = await store().load(s.id, Date.now())
    assert.equal(loaded?.attributes.get('ü🙂'), '"ünïcødé 🙂"')
    assert.equal(loaded?.attributes.get('big'), big)
  })

  t.it('touch moves lastAccessedAt and expiresAt without a version bump; false for unknown ids', async () => {
    const s = sessionRecord()
    await store().create(s)
    const later = s.createdAt + 10_000
    assert.equal(await store().touch(s.id, later, later + 60_000), true)
    const loaded = await store().load(s.id, later)
    assert.equal(loaded?.lastAccessedAt, later)
    assert.equal(loaded?.expiresAt, later + 60_000)
    assert.equal(loaded?.version, 1)
    assert.equal(await store().touch(newId(), later, later + 1), false)
  })

  t.it('load with touchIntervalMs touches a session not accessed for that long, in the same call', async () => {
    const s = sessionRecord({ idleTimeoutMs: 60_000, absoluteTimeoutMs: 100_000 })
    await store().create(s)
    const soon = s.createdAt + 1_000
    const fresh = await store().load(s.id, soon, { touchIntervalMs: 5_000 })
    assert.equal(fresh?.lastAccessedAt, s.createdAt, 'inside the interval: no touch')
    const later = s.createdAt + 50_000
    const touched = await store().load(s.id, later, { touchIntervalMs: 5_000 })
    assert.equal(touched?.lastAccessedAt, later)
    assert.equal(touched?.expiresAt, s.createdAt + 100_000, 'the absolute timeout caps the new expiry')
    assert.equal(touched?.version, 1, 'a touch is not a change')
    const again = await store().load(s.id, later + 1)
    assert.equal(again?.lastAccessedAt, later, 'the touch was stored')
    assert.equal(await store().load(newId(), later, { touchIntervalMs: 0 }), null)
  })

  t.it('does not serve a session past expiresAt even before it is swept', async () => {
    const now = Date.now()
    const s = sessionRecord({ createdAt: now, expiresAt: now + 50 })
    await store().create(s)
    assert.ok(await store().load(s.id, now + 10))
    assert.equal(await store().load(s.id, now + 51), null)
  })

  t.it('changeId moves everything to the new id and kills the old one', async () => {
    const s = sessionRecord({ principal: 'user:cid', attributes: new Map([['cart', '[1,2]']]) })
    await store().create(s)
    await store().apply(s.id, delta({ more: '1' }))
    const newer = newId()
    const now = Date.now() + 1
    assert.equal(await store().changeId(s.id, newer, now), true)
    assert.equal(await store().load(s.id, now), null)
    await assert.rejects(store().apply(s.id, delta({ x: '1' })), SessionNotFoundError)
    const moved = await store().load(newer, now)
    assert.ok(moved)
    assert.equal(moved.id, newer)
    assert.equal(moved.attributes.get('cart'), '[1,2]')
    assert.equal(moved.attributes.get('more'), '1')
    assert.equal(moved.principal, 'user:cid')
    assert.equal(moved.version, 2)
    assert.equal(moved.createdAt, s.createdAt)
    assert.equal(moved.idIssuedAt, now)
    assert.deepEqual(await store().findByPrincipal('user:cid', now), [newer])
    assert.equal(await store().changeId(s.id, newId(), now), false)
  })

  t.it('changeId refuses a target id that is taken', async () => {
    const a = sessionRecord()
    const b = sessionRecord()
    await store().create(a)
    await store().create(b)
    await assert.rejects(store().changeId(a.id, b.id, Date.now()), SessionExistsError)
    assert.ok(await store().load(a.id, Date.now()))
  })

  t.it('indexes sessions by principal and follows principal changes', async () => {
    const p = `user:${newId()}`
    const a = sessionRecord({ principal: p })
    const b = sessionRecord({ principal: p })
    const c = sessionRecord()
    for (const s of [a, b, c]) await store().create(s)
    assert.deepEqual((await store().findByPrincipal(p, Date.now())).sort(), [a.id, b.id].sort())
    await store().apply(c.id, delta({}, { principal: p }))
    await store().apply(a.id, delta({}, { principal: null }))
    assert.deepEqual((await store().findByPrincipal(p, Date.now())).sort(), [b.id, c.id].sort())
    await store().destroy(b.id)
    assert.deepEqual(await store().findByPrincipal(p, Date.now()), [c.id])
    assert.deepEqual(await store().findByPrincipal(`user:${newId()}`, Date.now()), [])
  })

  t.it('findByPrincipal leaves out expired sessions', async () => {
    const p = `user:${newId()}`
    const now = Date.now()
    await store().create(sessionRecord({ principal: p, expiresAt: now + 20 }))
    const live = sessionRecord({ principal: p })
    await store().create(live)
    assert.deepEqual(await store().findByPrincipal(p, now + 21), [live.id])
  })

  t.it('sweep removes expired sessions and reports each exactly once', async () => {
    const now = Date.now()
    const expiring = Array.from({ length: 5 }, () => sessionRecord({ principal: 'user:sweep', expiresAt: now + 10 }))
    const keep = sessionRecord({ expiresAt: now + 100_000 })
    for (const s of [...expiring, keep]) await store().create(s)
    const [first, second] = await Promise.all([store().sweep(now + 20), store().sweep(now + 20)])
    const swept = [...(first ?? []), ...(second ?? [])].map((e) => e.id)
    for (const s of expiring) assert.equal(swept.filter((id) => id === s.id).length, 1)
    assert.ok(!swept.includes(keep.id))
    assert.ok((first ?? []).concat(second ?? []).every((e) => !expiring.some((s) => s.id === e.id) || e.principal === 'user:sweep'))
    assert.deepEqual(
      (await store().sweep(now + 20)).filter((e) => expiring.some((s) => s.id === e.id)),
      [],
    )
    assert.ok(await store().load(keep.id, now + 20))
    assert.deepEqual(await store().findByPrincipal('user:sweep', now), [])
  })

  t.it('sweep honours its limit', async () => {
    const now = Date.now()
    for (let i = 0; i < 4; i++) await store().create(sessionRecord({ expiresAt: now + 5 }))
    const first = await store().sweep(now + 10, 2)
    assert.equal(first.length, 2)
    const rest = await store().sweep(now + 10)
    assert.ok(rest.length >= 2)
  })

  t.it('scan pages through every live session exactly once', async () => {
    const now = Date.now()
    const made = new Set<string>()
    for (let i = 0; i < 25; i++) {
      const s = sessionRecord({ expiresAt: now + 1_000_000 })
      made.add(s.id)
      await store().create(s)
    }
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const page = await store().scan({ cursor, limit: 7, now })
      for (const s of page.sessions) seen.push(s.id)
      cursor = page.cursor
      pages++
      assert.ok(pages < 1000, 'scan must terminate')
    } while (cursor !== null)
    assert.equal(new Set(seen).size, seen.length, 'no duplicates')
    for (const id of made) assert.ok(seen.includes(id))
  })
}
