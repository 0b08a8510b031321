import type Database from 'better-sqlite3'
import { ConfigurationError } from '../../core/errors.js'

/** Bump when the tables change, and add the migration step to `migrate`. */
export const SCHEMA_VERSION = 2

export interface TableNames {
  sessions: string
  attributes: string
  meta: string
}

/**
 * Table names for one prefix, so several apps can share one file. The prefix becomes part
 * of SQL identifiers, so it is restricted to a safe shape rather than quoted.
 */
export function tableNames(prefix: string): TableNames {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(prefix)) {
    throw new ConfigurationError(`sqliteStore: table prefix "${prefix}" must match /^[A-Za-z_][A-Za-z0-9_]*$/ (at most 63 characters)`)
  }
  return { sessions: `${prefix}_sessions`, attributes: `${prefix}_attributes`, meta: `${prefix}_meta` }
}

/**
 * Creates the tables if they are missing and records the schema version, in one IMMEDIATE
 * transaction so processes opening a fresh file at the same time do not race. The version
 * lives in a per-prefix meta table (not `user_version`, which is one per file).
 */
export function migrate(db: Database.Database, t: TableNames): void {
  if (isCurrent(db, t)) return
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS "${t.meta}" (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`)
    const row = db.prepare<[], { value: string }>(`SELECT value FROM "${t.meta}" WHERE key = 'schema_version'`).get()
    const found = row ? Number(row.value) : 0
    if (found > SCHEMA_VERSION) {
      throw new ConfigurationError(
        `sqliteStore: tables "${t.sessions}" use schema version ${found}, newer than this version of sessionmesh (${SCHEMA_VERSION})`,
      )
    }
    if (found === SCHEMA_VERSION) return
    if (found < 1) createV1(db, t)
    if (found < 2) {
      // Version 1 -> 2: the session lock's lease (its fence is the existing `fence` column).
      db.exec(`ALTER TABLE "${t.sessions}" ADD COLUMN lock_owner TEXT`)
      db.exec(`ALTER TABLE "${t.sessions}" ADD COLUMN lock_until INTEGER NOT NULL DEFAULT 0`)
    }
    db.prepare(`INSERT OR REPLACE INTO "${t.meta}" (key, value) VALUES ('schema_version', ?)`).run(String(SCHEMA_VERSION))
  }).immediate()
}

/**
 * Whether the tables are already at this version: a plain read, so opening a store on an
 * up-to-date file never waits for another process's write lock (WAL readers do not).
 */
function isCurrent(db: Database.Database, t: TableNames): boolean {
  try {
    const row = db.prepare<[], { value: string }>(`SELECT value FROM "${t.meta}" WHERE key = 'schema_version'`).get()
    return row !== undefined && Number(row.value) === SCHEMA_VERSION
  } catch {
    return false // no meta table yet (a new file): the transaction below creates it
  }
}

/** Version 0 -> 1: the initial tables. */
function createV1(db: Database.Database, t: TableNames): void {
  db.exec(`
      CREATE TABLE IF NOT EXISTS "${t.sessions}" (
        id               TEXT PRIMARY KEY NOT NULL,
        created_at       INTEGER NOT NULL,
        last_accessed_at INTEGER NOT NULL,
        id_issued_at     INTEGER NOT NULL,
        idle_ms          INTEGER NOT NULL,
        absolute_ms      INTEGER NOT NULL,
        expires_at       INTEGER NOT NULL,
        principal        TEXT,
        version          INTEGER NOT NULL,
        fence            INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX IF NOT EXISTS "${t.sessions}_expires_at" ON "${t.sessions}" (expires_at);
      CREATE INDEX IF NOT EXISTS "${t.sessions}_principal" ON "${t.sessions}" (principal) WHERE principal IS NOT NULL;
      CREATE TABLE IF NOT EXISTS "${t.attributes}" (
        session_id TEXT NOT NULL,
        name       TEXT NOT NULL,
        value      TEXT NOT NULL,
        PRIMARY KEY (session_id, name)
      ) WITHOUT ROWID;
    `)
}
