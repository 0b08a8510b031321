/**
 * sqlite-contention: four OS processes on one SQLite file, each doing atomic increments and
 * per-attribute sets on the same shared sessions, creating short-lived sessions and sweeping
 * every 250 ms. Afterwards: every acknowledged increment and set is in the file, every
 * expired session was reported by exactly one sweep, and no SQLITE_BUSY (or any error)
 * surfaced. Full: 30 s; short: 4 s.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createSessions } from '../../src/index.js'
import { sqliteStore } from '../../src/stores/sqlite/index.js'
import { type Check, type Fault, int, sleep, verdict } from '../lib/types.js'

const WORKER = fileURLToPath(new URL('../apps/sqlite-worker.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const SECRET = 'chaos-sqlite-contention-secret-0123456789'

interface WorkerResult {
  worker: string
  ops: number
  incs: Record<string, number>
  sets: Record<string, number>
  created: string[]
  swept: string[]
  errors: Record<string, number>
}

function startWorker(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
  let err = ''
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)))
  let onReady: () => void = () => {}
  const ready = new Promise<void>((r) => (onReady = r))
  const done = new Promise<WorkerResult>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === 'ready') return onReady()
      try {
        resolve(JSON.parse(line) as WorkerResult)
      } catch {
        // not the result line
      }
    })
    child.once('exit', (code, signal) => reject(new Error(`sqlite worker exited (${code ?? signal}) without a result:\n${err}`)))
  })
  return { ready, done, go: () => child.stdin.write('go\n'), child }
}

export const sqliteContention: Fault = {
  name: 'sqlite-contention',
  summary: 'Four processes contend on one SQLite file: increments and per-attribute sets on shared sessions, short-lived sessions, sweeps.',
  async run(ctx) {
    const durationMs = ctx.short ? 4_000 : 30_000
    const processes = 4
    const dir = mkdtempSync(join(tmpdir(), 'sessionmesh-chaos-sqlite-'))
    const db = join(dir, 'sessions.db')
    const sessions = createSessions({ store: sqliteStore({ path: db }), secret: SECRET, sweepInterval: false })
    try {
      const shared: string[] = []
      for (let i = 0; i < 8; i++) {
        const s = sessions.newBlankSession()
        s.set('n', 0)
        await s.save()
        shared.push(s.id)
      }
      const workers = Array.from({ length: processes }, (_, w) => startWorker({ DB: db, WORKER: String(w), DURATION_MS: String(durationMs), SHARED: shared.join(',') }))
      const all = Promise.all(workers.map((w) => w.done))
      all.catch(() => {})
      await Promise.all(workers.map((w) => w.ready))
      ctx.log(`${processes} processes ready on ${db}; ${durationMs / 1000} s of contention`)
      const started = Date.now()
      for (const w of workers) w.go()
      const results = await all
      const elapsed = Date.now() - started
      // Whatever is still live expires within 1 s: one last sweep reports it.
      await sleep(1_100)
      const finalSwept: string[] = []
      sessions.events.on('expired', (e) => finalSwept.push(e.id))
      await sessions.sweep()

      let lostIncrements = 0
      let lostSets = 0
      let ackedIncs = 0
      let ackedSets = 0
      const detail: string[] = []
      for (const id of shared) {
        const s = await sessions.get(id)
        const want = results.reduce((a, r) => a + (r.incs[id] ?? 0), 0)
        ackedIncs += want
        const n = s?.get<number>('n') ?? NaN
        if (!(n >= want)) {
          lostIncrements += want - (Number.isFinite(n) ? n : 0)
          detail.push(`${id.slice(0, 6)}…: n=${n}, ${want} acknowledged`)
        }
        if (n > want) detail.push(`${id.slice(0, 6)}…: n=${n} > ${want} acknowledged (an increment applied but reported failed)`)
        for (const r of results) {
          for (const [key, v] of Object.entries(r.sets)) {
            const [sid, name] = key.split(' ') as [string, string]
            if (sid !== id) continue
            ackedSets++
            if (s?.get(name) !== v) lostSets++
          }
        }
      }
      const created = results.flatMap((r) => r.created)
      const swept = [...results.flatMap((r) => r.swept), ...finalSwept]
      const sweptOnce = new Set(swept)
      const duplicates = swept.length - sweptOnce.size
      const missing = created.filter((id) => !sweptOnce.has(id)).length
      const errors: Record<string, number> = {}
      for (const r of results) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v
      const busy = Object.entries(errors).filter(([k]) => /BUSY|locked/i.test(k)).reduce((a, [, v]) => a + v, 0)
      const ops = results.reduce((a, r) => a + r.ops, 0)
      const perProcess = results.map((r) => r.ops)
      const throughput = (ops / elapsed) * 1000
      ctx.log(`${int(ops)} operations in ${(elapsed / 1000).toFixed(1)} s (${int(throughput)}/s); errors ${JSON.stringify(errors)}`)
      const checks: Check[] = [
        verdict('zero lost increments', lostIncrements === 0, `${int(ackedIncs)} acknowledged${detail.length ? `; ${detail.join('; ')}` : ''}`),
        verdict('zero lost attribute sets', lostSets === 0, `${int(ackedSets)} acknowledged, ${lostSets} missing`),
        verdict('zero SQLITE_BUSY surfaced as an error', busy === 0, `${busy}`),
        verdict('zero errors of any kind', Object.keys(errors).length === 0, JSON.stringify(errors)),
        verdict('every expired session reported by exactly one sweep', duplicates === 0 && missing === 0, `${int(created.length)} short-lived sessions, ${int(sweptOnce.size)} reported, ${duplicates} twice, ${missing} never`),
      ]
      return {
        checks,
        headline: `${int(throughput)} operations/s over ${processes} processes; ${lostIncrements + lostSets} of ${int(ackedIncs + ackedSets)} acknowledged writes lost; ${busy} SQLITE_BUSY errors`,
        figures: { processes, durationMs: elapsed, ops, perProcess, throughput, ackedIncs, ackedSets, lostIncrements, lostSets, created: created.length, sweptReports: swept.length, duplicates, missing, errors },
        table: [
          ['processes × duration', `${processes} × ${(elapsed / 1000).toFixed(1)} s on one file (WAL), 8 shared sessions`],
          ['operations (all processes) / per second', `${int(ops)} / ${int(throughput)} (per process: ${perProcess.map(int).join(', ')})`],
          ['acknowledged increments / lost', `${int(ackedIncs)} / ${lostIncrements}`],
          ['acknowledged attribute sets / lost', `${int(ackedSets)} / ${lostSets}`],
          ['short-lived sessions created / reported expired / reported twice', `${int(created.length)} / ${int(sweptOnce.size)} / ${duplicates}`],
          ['errors surfaced (SQLITE_BUSY)', `${Object.values(errors).reduce((a, b) => a + b, 0)} (${busy})`],
        ],
      }
    } finally {
      await sessions.close()
      rmSync(dir, { recursive: true, force: true })
    }
  },
}
