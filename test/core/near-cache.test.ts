/**
 * The near cache's ordering rules, each race played out by hand: a fill (a load's copy, or a
 * save's refill) against invalidations that arrive before or after it.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { NearCache } from '../../src/core/near-cache.js'
import type { StoredSession } from '../../src/core/store.js'

const NOW = 1_000_000
const at = (version: number, id = 's1'): StoredSession => ({
  id,
  attributes: new Map([['n', String(version)]]),
  createdAt: NOW,
  lastAccessedAt: NOW,
  idIssuedAt: NOW,
  idleTimeoutMs: 60_000,
  absoluteTimeoutMs: 600_000,
  expiresAt: NOW + 60_000,
  principal: null,
  version,
  fence: 0,
})
const cache = () => {
  const c = new NearCache(100, 10_000)
  c.setEnabled(true)
  return c
}
const cachedVersion = (c: NearCache, id = 's1') => c.get(id, NOW)?.version ?? null

describe('near cache ordering', () => {
  it('a save refills when its own announcement (same version) arrives before or after the reply', () => {
    for (const announcementFirst of [true, false]) {
      const c = cache()
      c.invalidate('s1') // e.g. the local 'created' event: long before this request, so no bar to it
      c.fill(at(1), c.mark(), NOW)
      const mark = c.mark()
      if (announcementFirst) c.invalidate('s1', 2)
      c.fill(at(2), mark, NOW)
      if (!announcementFirst) c.invalidate('s1', 2)
      assert.equal(cachedVersion(c), 2, `announcement ${announcementFirst ? 'first' : 'last'}`)
    }
  })

  it('a copy older than a change announced since its mark is refused, and an older cached copy goes too', () => {
    const c = cache()
    c.fill(at(1), c.mark(), NOW)
    const mark = c.mark()
    c.invalidate('s1', 3) // someone else's later save, heard before our reply
    c.fill(at(2), mark, NOW)
    assert.equal(cachedVersion(c), null)
  })

  it('an announcement without a version after the mark refuses the fill; one before it does not', () => {
    const c = cache()
    const mark = c.mark()
    c.invalidate('s1')
    c.fill(at(5), mark, NOW)
    assert.equal(cachedVersion(c), null)
    c.fill(at(5), c.mark(), NOW)
    assert.equal(cachedVersion(c), 5)
  })

  it('a versioned announcement keeps a copy at that version or newer and drops an older one', () => {
    const c = cache()
    c.fill(at(4), c.mark(), NOW)
    c.invalidate('s1', 4)
    assert.equal(cachedVersion(c), 4)
    c.invalidate('s1', 5)
    assert.equal(cachedVersion(c), null)
  })

  it('a flush refuses every fill marked before it, and a disabled cache holds nothing', () => {
    const c = cache()
    const mark = c.mark()
    c.setEnabled(false)
    c.fill(at(1), mark, NOW)
    assert.equal(cachedVersion(c), null)
    c.setEnabled(true)
    c.fill(at(1), mark, NOW)
    assert.equal(cachedVersion(c), null)
    c.fill(at(1), c.mark(), NOW)
    assert.equal(cachedVersion(c), 1)
    assert.equal(c.stats().flushes, 1)
  })

  it('once an id drops out of the remembered invalidations, fills marked before that are refused', () => {
    const c = cache()
    const mark = c.mark()
    c.invalidate('s1', 9)
    for (let i = 0; i < 10_001; i++) c.invalidate(`other-${i}`)
    c.fill(at(2), mark, NOW)
    assert.equal(cachedVersion(c), null, 's1 was forgotten: its fill cannot be proven current')
    c.fill(at(2), c.mark(), NOW)
    assert.equal(cachedVersion(c), 2)
  })

  it('evicts the least recently used entry past max', () => {
    const c = new NearCache(2, 10_000)
    c.setEnabled(true)
    for (const id of ['a', 'b']) c.fill(at(1, id), c.mark(), NOW)
    c.get('a', NOW)
    c.fill(at(1, 'c'), c.mark(), NOW)
    assert.deepEqual(['a', 'b', 'c'].map((id) => c.get(id, NOW) !== null), [true, false, true])
  })
})
