/**
 * The near cache, in one process with two `Sessions` instances ("A" and "B") sharing one
 * SQLite file as store and bus: a read-only request on a valid entry needs zero store calls;
 * a change on A reaches B's cache; revocation on A makes B refuse a warm session; a stale
 * cached copy can never overwrite newer data (while other attributes still merge).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { sqliteBus } from '../../src/cluster/bus/sqlite.js'
import { ConfigurationError, createSessions, memoryStore, type Sessions, type SessionStore, VersionConflictError } from '../../src/index.js'
import { sqliteStore } from '../../src/stores/sqlite/index.js'
import { until } from '../../harness/redis.js'
import { cookiePair, recording, run, SECRET } from '../core/helpers.js'

describe('near cache over a change bus', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sessionmesh-nearcache-'))
  const path = join(dir, 'sessions.db')
  const bStore = recording(sqliteStore({ path }))
  let a: Sessions
  let b: Sessions
  /** B2 reads events once, then not for an hour: its cached copies go stale on purpose. */
  let deaf: Sessions
  let cookie: string

  before(async () => {
    const make = (store: SessionStore, name: string, pollMs = 5) =>
      createSessions({ store, secret: SECRET, bus: { bus: sqliteBus({ path, pollMs }), instanceId: name }, nearCache: true, sweepInterval: false })
    a = make(sqliteStore({ path }), 'A')
    b = make(bStore.store, 'B')
    deaf = make(sqliteStore({ path }), 'B2', 3_600_000)
    await until('the caches are on', async () => [a, b, deaf].every((s) => s.nearCacheStats()?.enabled === true), 10_000)
    const login = await run(a, undefined, (rs) => {
      rs.view.user = 'alice'
      rs.view.cart = ['apple']
      rs.session.principal = 'alice'
    })
    cookie = cookiePair(login) as string
  })
  after(async () => {
    await Promise.all([a.close(), b.close(), deaf.close()])
    rmSync(dir, { recursive: true, force: true })
  })

  const read = async (sessions: Sessions, name: string) => (await run(sessions, cookie)).session.get(name)

  it('serves a read-only request on a valid entry with zero store calls', async () => {
    const misses = b.nearCacheStats()?.misses ?? 0
    assert.equal(await read(b, 'user'), 'alice') // B's first read: a miss, which fills the cache
    assert.equal(b.nearCacheStats()?.misses, misses + 1)
    const before = bStore.calls.length
    const hits = b.nearCacheStats()?.hits ?? 0
    assert.equal(await read(b, 'user'), 'alice')
    assert.equal(bStore.calls.length, before, 'no store call on a hit')
    assert.equal(b.nearCacheStats()?.hits, hits + 1)
    assert.equal(b.nearCacheStats()?.misses, misses + 1, 'a hit is not also counted as a miss')
  })

  it('a change on A invalidates B: B reads the new value', async () => {
    await read(b, 'note')
    await run(a, cookie, (rs) => {
      rs.view.note = 'from A'
    })
    await until('B sees the change', async () => (await read(b, 'note')) === 'from A', 10_000)
  })

  it('a stale cached copy cannot overwrite newer data it read, but blind writes and other attributes merge', async () => {
    assert.deepEqual(await read(deaf, 'cart'), ['apple']) // cached by the deaf instance
    await run(a, cookie, (rs) => {
      ;(rs.view.cart as string[]).push('pear')
      rs.view.lastSeen = 1
    })
    // The deaf instance still believes the cart is ['apple'] and pushes onto it.
    await assert.rejects(
      run(deaf, cookie, (rs) => {
        ;(rs.view.cart as string[]).push('plum')
      }),
      VersionConflictError,
    )
    assert.deepEqual(await read(a, 'cart'), ['apple', 'pear'])
    // Still from the stale copy: a blind set (the request never read lastSeen, which A changed)
    // decides nothing on stale data, so it is saved.
    await run(deaf, cookie, (rs) => {
      rs.view.lastSeen = 2
    })
    await run(deaf, cookie, (rs) => {
      rs.view.seen = true
    })
    // A learns of that write through the bus (its own cached copy predates it).
    await until('A sees the merged write', async () => (await read(a, 'seen')) === true, 10_000)
    assert.deepEqual(await read(a, 'cart'), ['apple', 'pear'])
    assert.equal(await read(a, 'lastSeen'), 2)
  })

  it('revocation on A reaches B even with a warm cache', async () => {
    assert.equal(await read(b, 'user'), 'alice')
    assert.equal(await read(b, 'user'), 'alice')
    assert.equal(await a.revokePrincipal('alice'), 1)
    await until('B refuses the session', async () => (await run(b, cookie)).session.isNew, 10_000)
  })

  it('refuses a near cache without a bus', () => {
    assert.throws(() => createSessions({ store: memoryStore(), secret: SECRET, nearCache: true }), ConfigurationError)
  })
})
