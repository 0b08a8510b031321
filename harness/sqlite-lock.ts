/**
 * Holding an SQLite file's write lock from a second OS process (not a second connection in
 * this one: the point is what this process does while it cannot write). See
 * harness/sqlite-lock-holder.ts.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const HOLDER = fileURLToPath(new URL('./sqlite-lock-holder.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('../', import.meta.url))

export interface HeldLock {
  /** Asks the holder to commit now; resolves when it has (the lock is free). */
  release(): Promise<void>
  /** Resolves when the holder has released the lock, by `release()` or after its period. */
  released: Promise<void>
}

/** Resolves once another process holds `BEGIN EXCLUSIVE` on `file`; it lets go after `holdMs` at the latest. */
export function holdSqliteLock(file: string, holdMs: number): Promise<HeldLock> {
  const child = spawn(process.execPath, ['--import', 'tsx', HOLDER], {
    cwd: ROOT,
    env: { ...process.env, FILE: file, HOLD_MS: String(holdMs) },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let err = ''
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)))
  child.stdin.on('error', () => {}) // EPIPE when asked to release after it already has
  const exited = new Promise<string>((resolve) => child.once('close', (code, signal) => resolve(`${code ?? signal}`)))
  return new Promise((resolve, reject) => {
    let onReleased: () => void = () => {}
    const released = new Promise<void>((r, fail) => {
      onReleased = r
      void exited.then((how) => fail(new Error(`sqlite lock holder exited (${how}) without releasing:\n${err}`)))
    })
    released.catch(() => {}) // reported through release() and to whoever awaits it
    void exited.then((how) => reject(new Error(`sqlite lock holder exited (${how}) before locking:\n${err}`)))
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === 'locked') {
        resolve({
          released,
          release: async () => {
            if (child.stdin.writable) child.stdin.end('release\n')
            await released
            await exited
          },
        })
      }
      if (line === 'released') onReleased()
    })
  })
}
