/**
 * One of the processes contending on one SQLite file (chaos/faults/sqlite-contention.ts).
 * Prints `ready`, waits for one line on stdin (so all start together), then for DURATION_MS
 * does, on the shared sessions (SHARED, comma-separated ids): atomic increments of `n` and
 * per-attribute sets of its own attributes; creates short-lived sessions (idle 1 s) and sweeps
 * every 250 ms. Prints one JSON line: what it had acknowledged and every error it saw.
 */
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { createSessions } from '../../src/index.js'
import { sqliteStore } from '../../src/stores/sqlite/index.js'

const db = process.env.DB ?? ''
const worker = process.env.WORKER ?? '0'
const durationMs = Number(process.env.DURATION_MS ?? 5_000)
const shared = (process.env.SHARED ?? '').split(',').filter(Boolean)
const SECRET = 'chaos-sqlite-contention-secret-0123456789'

const main = createSessions({ store: sqliteStore({ path: db }), secret: SECRET, sweepInterval: false })
const ephemeral = createSessions({ store: sqliteStore({ path: db }), secret: SECRET, idleTimeout: '1s', sweepInterval: false })
const swept: string[] = []
main.events.on('expired', (e) => swept.push(e.id))

const rl = createInterface({ input: process.stdin })
process.stdout.write('ready\n')
await once(rl, 'line')
rl.close()

const incs: Record<string, number> = {}
const sets: Record<string, number> = {}
const created: string[] = []
const errors: Record<string, number> = {}
let ops = 0
const fail = (e: unknown) => {
  const text = e instanceof Error ? `${(e as { code?: string }).code ?? e.name}: ${e.message.slice(0, 120)}` : String(e)
  errors[text] = (errors[text] ?? 0) + 1
}

const deadline = Date.now() + durationMs
const sweeper = (async () => {
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250))
    try {
      await main.sweep()
    } catch (e) {
      fail(e)
    }
  }
})()
main.events.on('error', fail)
for (let i = 0; Date.now() < deadline; i++) {
  const id = shared[i % shared.length] ?? ''
  try {
    const r = i % 10
    if (r < 5) {
      const s = await main.get(id)
      if (!s) throw new Error(`shared session ${id} missing`)
      await s.increment('n')
      incs[id] = (incs[id] ?? 0) + 1
    } else if (r < 9) {
      const s = await main.get(id)
      if (!s) throw new Error(`shared session ${id} missing`)
      s.set(`w${worker}-${i}`, i)
      await s.save()
      sets[`${id} w${worker}-${i}`] = i
    } else {
      const s = ephemeral.newBlankSession()
      s.set('tmp', i)
      await s.save()
      created.push(s.id)
    }
    ops++
  } catch (e) {
    fail(e)
  }
  // Let the sweeper's timer run between operations (better-sqlite3 calls are synchronous).
  if (i % 20 === 0) await new Promise((r) => setImmediate(r))
}
await sweeper
await main.close()
await ephemeral.close()
process.stdout.write(`${JSON.stringify({ worker, ops, incs, sets, created, swept, errors })}\n`)
