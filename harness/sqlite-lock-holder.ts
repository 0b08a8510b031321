/**
 * Another process holding an SQLite file's write lock (harness/sqlite-lock.ts starts it):
 * opens FILE, runs `BEGIN EXCLUSIVE`, prints `locked`, and commits (releasing the lock) on a
 * `release` line on stdin or after HOLD_MS, whichever comes first; then prints `released`
 * and exits. What a backup tool, a migration or a long admin transaction does to the app.
 */
import { createRequire } from 'node:module'
import { createInterface } from 'node:readline'
import type Database from 'better-sqlite3'

const Driver = createRequire(import.meta.url)('better-sqlite3') as typeof Database
const db = new Driver(process.env.FILE ?? '', { timeout: 10_000 })
db.exec('BEGIN EXCLUSIVE')
process.stdout.write('locked\n')

const rl = createInterface({ input: process.stdin })
const release = () => {
  clearTimeout(timer)
  rl.close()
  if (!db.inTransaction) return
  db.exec('COMMIT')
  db.close()
  process.stdout.write('released\n')
}
const timer = setTimeout(release, Number(process.env.HOLD_MS ?? 2_000))
rl.on('line', (line) => {
  if (line.trim() === 'release') release()
})
