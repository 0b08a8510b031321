/**
 * The SQLite bus (the embedded default's): the shared behaviour suite on one database file
 * shared by this process and the fixture processes, plus trimming to maxRows with a gap
 * report.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { BusGapError } from '../../src/core/errors.js'
import { sqliteBus } from '../../src/cluster/bus/sqlite.js'
import type { BusEvent } from '../../src/core/bus.js'
import { sqliteStore } from '../../src/stores/sqlite/index.js'
import { until } from '../../harness/redis.js'
import { busSuite } from './fixtures/bus-suite.js'

const dir = mkdtempSync(join(tmpdir(), 'sessionmesh-sqlite-bus-'))
const path = join(dir, 'sessions.db')
after(() => rmSync(dir, { recursive: true, force: true }))

busSuite('sqlite', () => ({
  make: (table, extra) => sqliteBus({ path, table, ...(extra?.onError ? { onError: extra.onError } : {}) }),
  fixture: (table) => ({ kind: 'sqlite', path, table }),
  cut: null,
  writeRaw: async (table, raw) => {
    const db = new Database(path)
    try {
      db.prepare(`INSERT INTO "${table}" (body) VALUES (?)`).run(raw)
    } finally {
      db.close()
    }
  },
}))

describe('sqlite bus specifics', () => {
  it('shares the file with the sqliteStore and trims to maxRows, reporting what a late consumer missed', async () => {
    const store = sqliteStore({ path })
    const bus = sqliteBus({ path, table: 'trimmed', maxRows: 50 })
    try {
      const first = await bus.publish({ type: 'expired', id: 'e0', principal: null, at: 0, origin: 'o' })
      for (let i = 1; i < 300; i++) await bus.publish({ type: 'expired', id: `e${i}`, principal: null, at: i, origin: 'o' })
      const db = new Database(path, { readonly: true })
      const rows = db.prepare('SELECT count(*) AS n FROM trimmed').get() as { n: number }
      db.close()
      assert.ok(rows.n <= 50 + 100, `${rows.n} rows kept`)
      const errors: Error[] = []
      const got: BusEvent[] = []
      const sub = bus.subscribe((e) => void got.push(e), { from: first, onError: (e) => errors.push(e) })
      await until('caught up', async () => got.at(-1)?.id === 'e299')
      await sub.close()
      const gap = errors.find((e) => e instanceof BusGapError)
      assert.ok(gap)
      assert.equal(got[0]!.eventId, gap.resumedAt)
      assert.equal(await store.count(Date.now()), 0)
    } finally {
      await bus.close()
      await store.close()
    }
  })
})
