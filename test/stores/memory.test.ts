import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ConfigurationError, createSessions, REQUIRED_OPERATIONS, type SessionStore } from '../../src/index.js'
import { memoryStore } from '../../src/stores/memory/index.js'
import { describeStoreConformance, sessionRecord } from '../../src/testing/index.js'

describeStoreConformance('memory', () => memoryStore())

describe('memoryStore bounds', () => {
  it('evicts the least recently used session past maxSessions', async () => {
    const store = memoryStore({ maxSessions: 3 })
    const [a, b, c, d] = [sessionRecord(), sessionRecord(), sessionRecord(), sessionRecord()]
    await store.create(a)
    await store.create(b)
    await store.create(c)
    await store.load(a.id, Date.now()) // a is now the most recent
    await store.create(d)
    assert.equal(await store.count(Date.now()), 3)
    assert.equal(await store.load(b.id, Date.now()), null)
    assert.ok(await store.load(a.id, Date.now()))
  })
})

/** Only the required operations of a memory store: the shape of the smallest outside store. */
function requiredOnly(inner: SessionStore): SessionStore {
  const store: Record<string, unknown> = { kind: 'memory-required-only', close: () => inner.close() }
  for (const op of REQUIRED_OPERATIONS) store[op] = (inner[op] as (...a: unknown[]) => unknown).bind(inner)
  return store as unknown as SessionStore
}

describeStoreConformance('memory, required operations only (the core falls back for the rest)', () => requiredOnly(memoryStore()))

describe('a store with only the required operations, behind createSessions', () => {
  it('atomic operations fall back to compare-and-set (concurrent increments all count); withLock is refused clearly', async () => {
    const store = requiredOnly(memoryStore())
    const sessions = createSessions({ store, secret: 'x'.repeat(32), sweepInterval: false })
    const s = sessions.newBlankSession()
    s.set('n', 0)
    await s.save()
    const views = await Promise.all(Array.from({ length: 50 }, async () => (await sessions.get(s.id))!.increment('n')))
    assert.deepEqual([...views].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1))
    assert.equal((await sessions.get(s.id))?.get('n'), 50)
    assert.equal(await sessions.store.count(Date.now()), 1)
    await assert.rejects(sessions.withLock(s.id, async () => {}), ConfigurationError)
    await sessions.close()
  })

  it('a store missing a required operation, or with only some lock operations, is refused at setup', () => {
    const noTouch: Partial<SessionStore> = { ...memoryStore(), touch: undefined }
    assert.throws(() => createSessions({ store: noTouch as SessionStore, secret: 'x'.repeat(32) }), (e: unknown) => e instanceof ConfigurationError && /touch/.test(e.message))
    const partial: SessionStore = { ...memoryStore(), unlock: undefined }
    assert.throws(() => createSessions({ store: partial, secret: 'x'.repeat(32) }), (e: unknown) => e instanceof ConfigurationError && /or none \(has lock, extendLock, raiseFence\)/.test(e.message))
  })
})
