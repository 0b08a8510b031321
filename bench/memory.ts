// The `memory` scenario: what 10,000 logged-in sessions (user, principal, a 3-item cart; one
// user each) cost where they are kept. In Redis: sessionmesh's redisStore against
// express-session + connect-redis, each on a fresh private redis-server, as the growth of
// `used_memory` (INFO memory) and as the sum of `MEMORY USAGE <key> SAMPLES 0` over every key.
// In the process: sessionmesh's memoryStore against express-session's MemoryStore, as the
// growth of the V8 heap (heapUsed after full GCs) in a child process run with --expose-gc.
// Sessions are created through the real middleware by HTTP requests (bench/memory-child.ts).
// Subjects are interleaved over --rounds rounds (order rotating); median and min–max.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createClient } from 'redis'
import type { CustomScenario, RunContext } from './lib/custom.js'
import { startRedis } from './lib/redis.js'
import { machine, type Machine, median } from './lib/report.js'
import { trackChild } from './lib/servers.js'
import type { ChildReport, MemorySubjectId } from './memory-child.js'

const SESSIONS = 10_000
const WARMUP = 500
const PER = 10_000

interface Subject {
  id: MemorySubjectId
  name: string
  where: 'redis' | 'heap'
}

const SUBJECTS: Subject[] = [
  { id: 'sessionmesh-redis', name: 'sessionmesh redisStore', where: 'redis' },
  { id: 'connect-redis', name: 'express-session + connect-redis', where: 'redis' },
  { id: 'sessionmesh-memory', name: 'sessionmesh memoryStore', where: 'heap' },
  { id: 'express-session-memory', name: 'express-session MemoryStore', where: 'heap' },
]

interface Spread {
  median: number
  min: number
  max: number
}

export interface MemoryRound {
  /** Sessions in the store at the end (warm-up included). */
  created: number
  /** Heap growth per session over the measured sessions (bytes). */
  heapPerSession: number
  /** Redis subjects: used_memory growth per session, MEMORY USAGE sum per session, keys per session. */
  redisPerSession?: number
  memoryUsagePerSession?: number
  keysPerSession?: number
}

export interface MemorySubjectResult {
  name: string
  where: 'redis' | 'heap'
  rounds: MemoryRound[]
  /** The headline: bytes per 10,000 sessions where the subject keeps them (Redis used_memory, or the heap). */
  per10k: Spread
  perSession: Spread
  /** Redis subjects: the MEMORY USAGE sum per 10,000 sessions, keys per session, and the server process's own heap growth per 10,000. */
  memoryUsagePer10k?: Spread
  keysPerSession?: number
  heapPer10k?: Spread
}

export interface MemoryResult {
  scenario: 'memory'
  title: string
  date: string
  command: string
  machine: Machine
  redis: string
  settings: { rounds: number; sessions: number; warmup: number; sessionmesh: 'tsc build' | 'src via tsx' }
  subjects: MemorySubjectResult[]
}

const CHILD = fileURLToPath(new URL('./memory-child.ts', import.meta.url))

function spread(values: number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) }
}

/** Runs one subject's child process; its report. */
function runChild(subject: Subject, env: Record<string, string>): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', CHILD], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, NODE_ENV: 'production', ...env, MEMORY_SUBJECT: subject.id, MEMORY_SESSIONS: String(SESSIONS), MEMORY_WARMUP: String(WARMUP) },
    })
    trackChild(child)
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.once('error', reject)
    child.once('exit', (code) => {
      const line = out.trim().split('\n').at(-1) ?? ''
      if (code !== 0) return reject(new Error(`[memory] ${subject.name}: child exited with ${code}`))
      try {
        resolve(JSON.parse(line) as ChildReport)
      } catch {
        reject(new Error(`[memory] ${subject.name}: no report from the child (${line})`))
      }
    })
  })
}

const info = (text: string, field: string) => Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN)

async function measureSubject(subject: Subject, ctx: RunContext): Promise<MemoryRound> {
  const env = ctx.sessionmeshEnv()
  if (subject.where === 'heap') {
    const r = await runChild(subject, env)
    return { created: r.created, heapPerSession: r.heapBytes / r.measured }
  }
  // A fresh private redis-server per measurement: nothing else in it, nothing to delete.
  const redis = await startRedis()
  const admin = createClient({ url: redis.url })
  admin.on('error', () => {})
  try {
    await admin.connect()
    const clients = info(await admin.info('clients'), 'connected_clients')
    const before = info(await admin.info('memory'), 'used_memory')
    const r = await runChild(subject, { ...env, BENCH_REDIS_URL: redis.url })
    // The child's connections (and their buffers) must be gone before the second reading.
    for (let i = 0; i < 100 && info(await admin.info('clients'), 'connected_clients') > clients; i++) await new Promise((res) => setTimeout(res, 50))
    const after = info(await admin.info('memory'), 'used_memory')
    let keys = 0
    let usage = 0
    let sessionKeys = 0
    for await (const batch of admin.scanIterator({ COUNT: 1000 })) {
      const sizes = await Promise.all(batch.map((k) => admin.memoryUsage(k, { SAMPLES: 0 })))
      keys += batch.length
      usage += sizes.reduce<number>((a, b) => a + (b ?? 0), 0)
      sessionKeys += batch.filter((k) => (subject.id === 'connect-redis' ? k.startsWith('bench-mem-cr:') : /:s:/.test(k))).length
    }
    if (sessionKeys !== r.created) throw new Error(`[memory] ${subject.name}: ${sessionKeys} sessions in Redis, ${r.created} logged in`)
    return {
      created: r.created,
      heapPerSession: r.heapBytes / r.measured,
      redisPerSession: (after - before) / r.created,
      memoryUsagePerSession: usage / r.created,
      keysPerSession: keys / r.created,
    }
  } finally {
    admin.destroy()
    await redis.stop()
  }
}

async function runMemory(ctx: RunContext): Promise<MemoryResult> {
  const m = machine()
  const rounds = ctx.settings.rounds
  ctx.log(`\n[memory] ${SESSIONS.toLocaleString('en')} logged-in sessions per subject (+ ${WARMUP} warm-up), ${rounds} interleaved rounds`)
  const perSubject = new Map<MemorySubjectId, MemoryRound[]>(SUBJECTS.map((s) => [s.id, []]))
  const probe = await startRedis()
  const redisVersion = probe.version
  await probe.stop()
  for (let round = 0; round < rounds; round++) {
    const order = SUBJECTS.map((_, i) => SUBJECTS[(i + round) % SUBJECTS.length] as Subject)
    for (const s of order) {
      const r = await measureSubject(s, ctx)
      perSubject.get(s.id)?.push(r)
      const redis = r.redisPerSession === undefined ? '' : `Redis used_memory ${Math.round(r.redisPerSession)} B/session, MEMORY USAGE ${Math.round(r.memoryUsagePerSession ?? 0)} B/session, ${r.keysPerSession?.toFixed(2)} keys/session; `
      ctx.log(`[memory] round ${round + 1}/${rounds}  ${s.name.padEnd(32)} ${redis}process heap ${Math.round(r.heapPerSession)} B/session`)
    }
  }
  const subjects = SUBJECTS.map((s): MemorySubjectResult => {
    const list = perSubject.get(s.id) ?? []
    const heap = list.map((r) => r.heapPerSession)
    if (s.where === 'heap') {
      return { name: s.name, where: s.where, rounds: list, perSession: spread(heap), per10k: spread(heap.map((x) => x * PER)) }
    }
    const redis = list.map((r) => r.redisPerSession ?? Number.NaN)
    return {
      name: s.name,
      where: s.where,
      rounds: list,
      perSession: spread(redis),
      per10k: spread(redis.map((x) => x * PER)),
      memoryUsagePer10k: spread(list.map((r) => (r.memoryUsagePerSession ?? Number.NaN) * PER)),
      keysPerSession: median(list.map((r) => r.keysPerSession ?? Number.NaN)),
      heapPer10k: spread(heap.map((x) => x * PER)),
    }
  })
  return {
    scenario: 'memory',
    title: 'Memory per 10,000 logged-in sessions: in Redis and in the process',
    date: new Date().toISOString(),
    command: ctx.command,
    machine: m,
    redis: redisVersion,
    settings: { rounds, sessions: SESSIONS, warmup: WARMUP, sessionmesh: ctx.settings.sessionmesh },
    subjects,
  }
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`
const b = (bytes: number) => `${Math.round(bytes).toLocaleString('en-US')} B`
const range = (s: Spread, f: (n: number) => string) => `${f(s.min)} – ${f(s.max)}`

function rows(r: MemoryResult): string[][] {
  return r.subjects.map((s) => [
    s.name,
    s.where === 'redis' ? 'Redis `used_memory`' : 'process heap (heapUsed)',
    mib(s.per10k.median),
    range(s.per10k, mib),
    b(s.perSession.median),
    s.memoryUsagePer10k ? mib(s.memoryUsagePer10k.median) : '—',
    s.keysPerSession === undefined ? '—' : s.keysPerSession.toFixed(2),
    s.heapPer10k ? mib(s.heapPer10k.median) : '—',
  ])
}

const HEAD = ['subject', 'measured in', 'per 10,000 sessions (median)', 'min – max over rounds', 'per session', 'Redis MEMORY USAGE sum per 10,000', 'Redis keys per session', 'server heap per 10,000 (Redis subjects)']

export function memoryMarkdown(r: MemoryResult): string {
  const m = r.machine
  const s = r.settings
  return [
    `_Generated by \`${r.command}\` on ${r.date.slice(0, 10)}: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}, redis-server ${r.redis}; sessionmesh ${s.sessionmesh === 'tsc build' ? 'from its tsc build' : 'from src/ through tsx'}._`,
    '',
    `_Each subject logs in ${s.sessions.toLocaleString('en')} users (after ${s.warmup} warm-up logins) through its Express 5 middleware by HTTP, \`POST /login-cart?u=<n>\`: \`user\`, \`principal\` (\`user:<n>\`) and a cart of 3 items, one session per user; ${s.rounds} interleaved rounds, a fresh child process (and, for Redis, a fresh private redis-server) per measurement. Redis: growth of \`used_memory\` from before the first login to after the server process has disconnected, divided by all sessions stored (warm-up included); also the sum of \`MEMORY USAGE <key> SAMPLES 0\` over every key (without Redis's per-key dictionary overhead). Process: growth of V8 \`heapUsed\` over the ${s.sessions.toLocaleString('en')} measured logins, after full GCs (\`--expose-gc\`)._`,
    '',
    `| ${HEAD.join(' | ')} |`,
    `|---|---|${HEAD.slice(2).map(() => '---:').join('|')}|`,
    ...rows(r).map((row) => `| ${row.join(' | ')} |`),
  ].join('\n')
}

export function memoryText(r: MemoryResult): string {
  const table = [HEAD, ...rows(r).map((row) => row.map((c) => c.replace(/`/g, '')))]
  const widths = HEAD.map((_, c) => Math.max(...table.map((row) => (row[c] ?? '').length)))
  return ['', `== memory: ${r.title} ==`, ...table.map((row) => row.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ').trimEnd())].join('\n')
}

export const memoryScenario: CustomScenario<MemoryResult> = {
  name: 'memory',
  summary: `bytes per ${PER.toLocaleString('en')} logged-in sessions: in Redis (redisStore vs connect-redis) and in the process heap (memoryStore vs express-session MemoryStore); --rounds rounds`,
  run: runMemory,
  text: memoryText,
  markdown: memoryMarkdown,
}
