import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import type Database from 'better-sqlite3'
import { ConfigurationError, StoreUnavailableError } from '../../src/core/errors.js'
import { sqliteStore } from '../../src/stores/sqlite/index.js'
import { delta, describeStoreConformance, sessionRecord } from '../../src/testing/index.js'

const dir = mkdtempSync(join(tmpdir(), 'sessionmesh-sqlite-'))
after(() => rmSync(dir, { recursive: true, force: true }))
let files = 0
const freshPath = () => join(dir, `store-${files++}.db`)

describeStoreConformance('sqlite', () => sqliteStore({ path: freshPath() }))
describeStoreConformance('sqlite :memory:', () => sqliteStore({ path: ':memory:', table: 'app_two' }))

describe('sqliteStore specifics', () => {
  it('keeps sessions across close and reopen, with WAL and the schema version on file', async () => {
    const path = freshPath()
    const first = sqliteStore({ path })
    const s = sessionRecord({ principal: 'user:reopen' })
    await first.create(s)
    await first.apply(s.id, delta({ x: '1' }))
    await first.close()
    await first.close() // idempotent

    const second = sqliteStore({ path })
    const loaded = await second.load(s.id, Date.now())
    assert.equal(loaded?.attributes.get('x'), '1')
    assert.equal(loaded?.version, 2)
    await second.close()

    const Driver = createRequire(import.meta.url)('better-sqlite3') as typeof Database
    const raw = new Driver(path, { readonly: true })
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal')
    assert.equal(raw.prepare(`SELECT value FROM sessionmesh_meta WHERE key = 'schema_version'`).pluck().get(), '2')
    raw.close()
  })

  it('upgrades a version 1 file (before session locks) in place, keeping its sessions', async () => {
    const path = freshPath()
    const Driver = createRequire(import.meta.url)('better-sqlite3') as typeof Database
    const v1 = new Driver(path)
    // The version 1 tables exactly as sessionmesh 0.1 created them.
    v1.exec(`
      CREATE TABLE sessionmesh_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      INSERT INTO sessionmesh_meta VALUES ('schema_version', '1');
      CREATE TABLE sessionmesh_sessions (id TEXT PRIMARY KEY NOT NULL, created_at INTEGER NOT NULL, last_accessed_at INTEGER NOT NULL,
        id_issued_at INTEGER NOT NULL, idle_ms INTEGER NOT NULL, absolute_ms INTEGER NOT NULL, expires_at INTEGER NOT NULL,
        principal TEXT, version INTEGER NOT NULL, fence INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE sessionmesh_attributes (session_id TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (session_id, name)) WITHOUT ROWID;
    `)
    const now = Date.now()
    v1.prepare(`INSERT INTO sessionmesh_sessions VALUES ('old-one', ?, ?, ?, 60000, 3600000, ?, 'user:old', 3, 0)`).run(now, now, now, now + 60_000)
    v1.prepare(`INSERT INTO sessionmesh_attributes VALUES ('old-one', 'cart', '["a"]')`).run()
    v1.close()
    const store = sqliteStore({ path })
    assert.equal((await store.load('old-one', Date.now()))?.attributes.get('cart'), '["a"]')
    assert.equal(await store.lock('old-one', 'me', 10_000, Date.now()), 1)
    await store.close()
  })

  it('keeps apps with different table prefixes in one file apart', async () => {
    const path = freshPath()
    const a = sqliteStore({ path, table: 'app_a' })
    const b = sqliteStore({ path, table: 'app_b' })
    const s = sessionRecord()
    await a.create(s)
    assert.equal(await b.load(s.id, Date.now()), null)
    await b.create(sessionRecord({ id: s.id, attributes: new Map([['other', '2']]) }))
    assert.equal((await a.load(s.id, Date.now()))?.attributes.get('user'), '"alice"')
    assert.equal((await b.load(s.id, Date.now()))?.attributes.get('other'), '2')
    await a.close()
    await b.close()
  })

  it('refuses options that cannot work', () => {
    assert.throws(() => sqliteStore({ path: ':memory:', table: 'x"; DROP TABLE y; --' }), ConfigurationError)
    assert.throws(() => sqliteStore({ path: ':memory:', busyTimeoutMs: -1 }), ConfigurationError)
    assert.throws(() => sqliteStore({ path: '' }), ConfigurationError)
  })

  it('reports a file it cannot open, and a closed store, as StoreUnavailableError', async () => {
    assert.throws(() => sqliteStore({ path: join(dir, 'missing-dir', 'x.db') }), StoreUnavailableError)
    const store = sqliteStore({ path: ':memory:' })
    await store.close()
    await assert.rejects(store.load('x', Date.now()), StoreUnavailableError)
  })

  it('scan with a limit equal to the number of sessions ends with cursor null on that page', async () => {
    const store = sqliteStore({ path: ':memory:' })
    const now = Date.now()
    for (let i = 0; i < 3; i++) await store.create(sessionRecord())
    const page = await store.scan({ limit: 3, now })
    assert.equal(page.sessions.length, 3)
    assert.equal(page.cursor, null)
    await store.close()
  })
})

// ---------------------------------------------------------------------------------------
// Real OS processes sharing one file.

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const WORKER = fileURLToPath(new URL('./fixtures/sqlite-worker.ts', import.meta.url))

/** Starts a worker; `ready` settles once it is waiting for the start signal, `done` with its JSON. */
function startWorker(args: string[], timeoutMs = 90_000) {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  let signalReady = () => {}
  const readySignal = new Promise<void>((resolve) => (signalReady = resolve))
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
    if (out.startsWith('ready\n')) signalReady()
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
  const exited = new Promise<unknown>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`worker ${args[0]} timed out after ${timeoutMs} ms\n${err}`))
    }, timeoutMs)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (code !== 0) return reject(new Error(`worker ${args[0]} exited with ${code ?? signal}\n${err}`))
      try {
        resolve(JSON.parse(out.slice('ready\n'.length)))
      } catch (e) {
        reject(new Error(`worker ${args[0]} printed no JSON: ${out}\n${err}`, { cause: e }))
      }
    })
  })
  const notReady = exited.then(() => {
    throw new Error(`worker ${args[0]} exited before it was ready`)
  })
  return {
    ready: Promise.race([readySignal, notReady]),
    go: () => child.stdin.end('go\n'),
    done: exited,
  }
}

/** Starts all workers, waits until each one is ready, then releases them together. */
async function runTogether(argsList: string[][]): Promise<unknown[]> {
  const workers = argsList.map((args) => startWorker(args))
  // Attach handlers at once so a crash of one worker is not an unhandled rejection.
  const all = Promise.all(workers.map((w) => w.done))
  all.catch(() => {})
  await Promise.all(workers.map((w) => w.ready))
  for (const w of workers) w.go()
  return all
}

describe('sqliteStore across OS processes', () => {
  it('two processes hammering one file lose no write', { timeout: 180_000 }, async () => {
    const path = freshPath()
    const store = sqliteStore({ path })
    const n = 500
    const shared = sessionRecord({ attributes: new Map(), expiresAt: Date.now() + 3_600_000 })
    const own = [sessionRecord({ attributes: new Map() }), sessionRecord({ attributes: new Map() })]
    for (const s of [shared, ...own]) await store.create(s)

    const results = await runTogether(
      own.map((o, w) => ['hammer', path, shared.id, o.id, `w${w}`, String(n)]),
    )
    assert.deepEqual(results, [{ applied: 2 * n }, { applied: 2 * n }])

    const now = Date.now()
    const loaded = await store.load(shared.id, now)
    assert.ok(loaded)
    assert.equal(loaded.attributes.size, 2 * n)
    assert.equal(loaded.version, 1 + 2 * n)
    for (let w = 0; w < 2; w++) for (let i = 0; i < n; i++) assert.equal(loaded.attributes.get(`w${w}-${i}`), String(i))
    for (const o of own) {
      const mine = await store.load(o.id, now)
      assert.ok(mine)
      assert.equal(mine.attributes.size, n)
      assert.equal(mine.version, 1 + n)
      for (let i = 0; i < n; i++) assert.equal(mine.attributes.get(`k${i}`), String(i))
    }
    await store.close()
  })

  it('two processes sweeping one file report each expired id exactly once', { timeout: 180_000 }, async (t) => {
    const path = freshPath()
    const store = sqliteStore({ path })
    const base = Date.now()
    const expired = new Map<string, string | null>()
    for (let i = 0; i < 2000; i++) {
      const s = sessionRecord({ expiresAt: base + 1_000, principal: i % 3 === 0 ? null : `user:${i % 7}` })
      expired.set(s.id, s.principal)
      await store.create(s)
    }
    const live = Array.from({ length: 10 }, () => sessionRecord({ expiresAt: base + 1_000_000 }))
    for (const s of live) await store.create(s)

    const sweepAt = String(base + 10_000)
    const results = (await runTogether([
      ['sweep', path, sweepAt, '25'],
      ['sweep', path, sweepAt, '25'],
    ])) as Array<{ swept: Array<{ id: string; principal: string | null }> }>

    const all = results.flatMap((r) => r.swept)
    t.diagnostic(`swept per process: ${results.map((r) => r.swept.length).join(' + ')}`)
    assert.equal(all.length, expired.size, 'no id reported twice, none missed')
    assert.equal(new Set(all.map((e) => e.id)).size, expired.size)
    for (const e of all) {
      assert.ok(expired.has(e.id), 'only expired ids are swept')
      assert.equal(e.principal, expired.get(e.id))
    }
    assert.equal(await store.count(base), live.length)
    for (const s of live) assert.ok(await store.load(s.id, base))
    assert.deepEqual(await store.sweep(base + 10_000), [])
    await store.close()
  })
})
