/**
 * The change bus in an SQLite table: the embedded default's bus, for several processes on one
 * host sharing the file the sqliteStore uses. Each publish is one INSERT (the rowid is the
 * event id); each subscription polls for rows after its position. See docs/BUS.md.
 */
import { createRequire } from 'node:module'
import type Database from 'better-sqlite3'
import { ConfigurationError, MissingDependencyError } from '../../core/errors.js'
import { encodeEvent } from './codec.js'
import { compareDecimal, Delivery } from './delivery.js'
import { pause } from '../../core/pause.js'
import { retryWhileBusy } from '../../core/busy-retry.js'
import { BusClosedError, BusGapError, BusUnavailableError } from '../../core/errors.js'
import type { BusOptions, ChangeBus, Subscription } from '../../core/bus.js'

export interface SqliteBusOptions extends BusOptions {
  /** The database file: the same one your sqliteStore uses. Not on a network filesystem. */
  path: string
  /** The events table. Default `sessionmesh_events`. */
  table?: string
  /** Rows kept; older ones are deleted as new ones are added (checked every `trimEvery` publishes). Default 100,000. */
  maxRows?: number
  /** How often each subscription looks for new rows. Default 25 ms. */
  pollMs?: number
  /** Most rows one poll reads. Default 500. */
  batch?: number
  /**
   * How long a publish (or poll) keeps retrying, on timers, while another process holds the
   * file's lock, before failing with BusUnavailableError. Default 5,000 ms.
   */
  busyTimeoutMs?: number
}

function loadDriver(): typeof Database {
  try {
    return createRequire(import.meta.url)('better-sqlite3') as typeof Database
  } catch (e) {
    const code = (e as { code?: unknown } | null)?.code
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') throw new MissingDependencyError('better-sqlite3', 'sqliteBus', { cause: e })
    throw e
  }
}

const ROWID = /^(0|[1-9]\d{0,18})$/
/** Trim once per this many publishes from one process: a DELETE per INSERT would double the write cost. */
const TRIM_EVERY = 100

type Row = { id: number | bigint; body: unknown }

/**
 * How long one SQLite call may wait for a lock inside the driver, ms: SQLite's busy wait
 * sleeps on the event loop, so it is kept to a few ms and longer waits are retries on timers
 * (src/core/busy-retry.ts). Shared with sqliteStore.
 */
export const SQLITE_ATTEMPT_WAIT_MS = 2

/** SQLITE_BUSY and its extended codes (_RECOVERY, _SNAPSHOT, _TIMEOUT): another connection holds the lock. */
export const isSqliteBusy = (e: unknown): boolean => {
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY')
}

/**
 * An SQLite-table change bus for processes on one host (WAL mode, so pollers never block the
 * writer). Delivery latency is about `pollMs`. Needs the optional peer dependency
 * `better-sqlite3`.
 *
 * @example
 * import { createSessions } from 'sessionmesh'
 * import { sqliteBus, sqliteStore } from 'sessionmesh/sqlite'
 * const store = sqliteStore({ path: 'sessions.db' })
 * const bus = sqliteBus({ path: 'sessions.db' })
 * const sessions = createSessions({ store, secret })
 * connectBus(sessions.events, bus, { instanceId: `pid-${process.pid}` })
 */
export function sqliteBus(options: SqliteBusOptions): ChangeBus {
  if (!options.path) throw new ConfigurationError('sqliteBus: `path` is required')
  const table = options.table ?? 'sessionmesh_events'
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(table)) throw new ConfigurationError(`sqliteBus: table "${table}" must match /^[A-Za-z_][A-Za-z0-9_]*$/`)
  const maxRows = options.maxRows ?? 100_000
  const pollMs = options.pollMs ?? 25
  const batch = options.batch ?? 500
  const busyTimeoutMs = options.busyTimeoutMs ?? 5_000
  for (const [name, v] of [['maxRows', maxRows], ['pollMs', pollMs], ['batch', batch], ['busyTimeoutMs', busyTimeoutMs]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new ConfigurationError(`sqliteBus: ${name} must be a whole number >= 1`)
  }
  const Driver = loadDriver()
  let db: Database.Database | undefined
  try {
    db = new Driver(options.path, { timeout: busyTimeoutMs })
    db.pragma(`busy_timeout = ${busyTimeoutMs}`)
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    // AUTOINCREMENT: rowids are never reused after a trim, so an id names one event forever.
    db.exec(`CREATE TABLE IF NOT EXISTS "${table}" (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)`)
    // Opening may wait (synchronously, once) for the lock; later calls only try briefly.
    db.pragma(`busy_timeout = ${SQLITE_ATTEMPT_WAIT_MS}`)
  } catch (e) {
    db?.close()
    throw new BusUnavailableError(`sqlite bus: cannot open ${options.path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
  }
  const T = `"${table}"`
  const q = {
    insert: db.prepare<[string]>(`INSERT INTO ${T} (body) VALUES (?)`),
    trim: db.prepare<[number]>(`DELETE FROM ${T} WHERE id <= (SELECT max(id) FROM ${T}) - ?`),
    after: db.prepare<[bigint, number], Row>(`SELECT id, body FROM ${T} WHERE id > ? ORDER BY id LIMIT ?`).safeIntegers(true),
    last: db.prepare<[], number | bigint | null>(`SELECT seq FROM sqlite_sequence WHERE name = '${table}'`).pluck().safeIntegers(true),
    first: db.prepare<[], number | bigint | null>(`SELECT min(id) FROM ${T}`).pluck().safeIntegers(true),
  }
  let closed = false
  let published = 0
  const subscriptions = new Set<Subscription>()
  const lastRowId = () => String(q.last.get() ?? 0)
  const conn = db
  /** Retries `fn` on timers while another process holds the lock (never a long busy wait on the event loop). */
  const retrying = <T>(fn: () => T) => retryWhileBusy(fn, { isBusy: isSqliteBusy, deadlineMs: busyTimeoutMs, alive: () => conn.open })
  // The insert and its occasional trim are one transaction, so a retry never inserts twice.
  const append = db.transaction((body: string, trim: boolean) => {
    const { lastInsertRowid } = q.insert.run(body)
    if (trim) q.trim.run(maxRows)
    return lastInsertRowid
  })

  return {
    kind: 'sqlite',

    async publish(event) {
      if (closed) throw new BusClosedError('sqliteBus.publish')
      const body = encodeEvent(event) // a TypeError for an event it cannot encode, as is
      try {
        const id = await retrying(() => append.immediate(body, (published + 1) % TRIM_EVERY === 0))
        published++
        return String(id)
      } catch (e) {
        if (isSqliteBusy(e)) throw new BusUnavailableError(`sqlite bus: publish failed: the database stayed locked by another process for ${busyTimeoutMs} ms`, { cause: e })
        throw new BusUnavailableError(`sqlite bus: publish failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
      }
    },

    subscribe(handler, subscribeOptions = {}) {
      if (closed) throw new BusClosedError('sqliteBus.subscribe')
      const from = subscribeOptions.from
      if (from !== undefined && !ROWID.test(from)) throw new ConfigurationError(`sqliteBus: from "${from}" is not a row id`)
      const delivery = new Delivery(handler, subscribeOptions, options, compareDecimal)
      const stop = new AbortController()
      const loop = async () => {
        let checkGap = from !== undefined
        let failing = false
        while (!stop.signal.aborted) {
          try {
            delivery.lastId ??= await retrying(lastRowId)
            if (checkGap) {
              checkGap = false
              const first = await retrying(() => q.first.get())
              // With AUTOINCREMENT and no deletes but the trim, a first row past position+1 means a trimmed gap.
              if (first !== null && first !== undefined && BigInt(first) > BigInt(delivery.lastId) + 1n) {
                delivery.report(new BusGapError(delivery.lastId, String(first)))
              }
            }
            const position = BigInt(delivery.lastId)
            const rows = await retrying(() => q.after.all(position, batch))
            delivery.setStatus('connected')
            failing = false
            for (const row of rows) {
              if (stop.signal.aborted) break
              await delivery.accept(String(row.id), row.body)
            }
            if (rows.length < batch) await pause(pollMs, stop.signal)
          } catch (e) {
            if (stop.signal.aborted) break
            delivery.setStatus('disconnected')
            if (!failing) delivery.report(new BusUnavailableError(`sqlite bus: poll failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e }))
            failing = true
            await pause(Math.max(pollMs, 250), stop.signal)
          }
        }
      }
      const running = loop()
      const subscription = delivery.subscription(async () => {
        stop.abort()
        await running
        delivery.setStatus('disconnected')
        subscriptions.delete(subscription)
      })
      subscriptions.add(subscription)
      return subscription
    },

    async close() {
      if (closed) return
      closed = true
      await Promise.all([...subscriptions].map((s) => s.close()))
      db.close()
    },
  }
}
