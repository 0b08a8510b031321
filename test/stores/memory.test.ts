import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { memoryStore } from '../../src/stores/memory/index.js'
import { describeStoreConformance, sessionRecord } from './conformance.js'

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
