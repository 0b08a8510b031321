// Instructions per request of one benchmark server, counted by valgrind (callgrind): a
// deterministic measure for A/B work on the hot path, where req/s on a shared 2-core machine
// cannot resolve a 2 % change. Not part of `npm run bench` (it needs valgrind and takes minutes).
//
//   node --import tsx bench/instructions.ts [server] [--warmup N] [--requests N] [--reps N] [--path /] [--top N]
//
// One server process under callgrind, one keep-alive connection, one request at a time: W
// warm-up requests, then each rep zeroes the counters, sends N requests and dumps. The first
// rep after warm-up can still include JIT work; later reps agree within about 1 %.
// `--top N` also lists the last rep's N costliest functions per request (callgrind_annotate):
// JIT-compiled JavaScript has no symbols there, but V8's builtins, ICs, runtime and GC do, which
// is where a change in object shapes or allocation shows. The first rows (`(below main)`,
// `main`, node's event loop, `start_thread`) carry what callgrind could not attribute further,
// JIT code among it; compare runs by the V8 functions below them.
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs, promisify } from 'node:util'
import { buildSessionmesh } from './lib/build.js'
import { startRedis } from './lib/redis.js'
import { serverFile } from './lib/servers.js'

const run = promisify(execFile)

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    warmup: { type: 'string', default: '10000' },
    requests: { type: 'string', default: '5000' },
    reps: { type: 'string', default: '3' },
    path: { type: 'string', default: '/' },
    top: { type: 'string', default: '0' },
  },
})
const name = positionals[0] ?? 'sessionmesh-nearcache'
const [warmup, requests, reps] = [values.warmup, values.requests, values.reps].map(Number) as [number, number, number]
const path = values.path
const top = Number(values.top)

const root = buildSessionmesh()
const redis = await startRedis()
const dir = mkdtempSync(join(tmpdir(), 'sessionmesh-callgrind-'))
const child = spawn('valgrind', ['--tool=callgrind', `--callgrind-out-file=${dir}/out.%p`, process.execPath, '--import', 'tsx', serverFile(name)], {
  stdio: ['pipe', 'pipe', 'ignore'],
  env: { ...process.env, NODE_ENV: 'production', SESSIONMESH_ROOT: root, BENCH_REDIS_URL: redis.url, BENCH_STEADY: '1' },
})
const port = await new Promise<number>((resolve, reject) => {
  child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before listening; is valgrind installed?`)))
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (/^\d+$/.test(line.trim())) resolve(Number(line.trim()))
  })
})

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
function request(method: string, url: string, cookie?: string): Promise<{ status: number; cookie?: string }> {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: '127.0.0.1', port, method, path: url, agent, headers: cookie ? { cookie } : {} }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, cookie: res.headers['set-cookie']?.[0]?.split(';')[0] }))
    })
    r.on('error', reject)
    r.end()
  })
}
const cookie = (await request('POST', '/login')).cookie
async function send(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await request(path === '/incr' ? 'POST' : 'GET', path, cookie)
    if (r.status !== 200) throw new Error(`${path} answered ${r.status}`)
  }
}
// callgrind_control is served when the process next runs: keep requests going until it is.
async function control(flag: '-z' | '-d'): Promise<void> {
  let done = false
  const acted = new Promise<void>((resolve, reject) => execFile('callgrind_control', [flag, String(child.pid)], (e) => (e ? reject(new Error(`callgrind_control ${flag}: ${e.message}`)) : resolve()))).finally(() => (done = true))
  while (!done) await request('GET', '/__nearcache')
  await acted
}

/** The `n` functions with the most instructions (self) per request in the dumps now in `dir`, summed over threads. */
async function costliest(n: number): Promise<string> {
  const self = new Map<string, number>()
  for (const f of readdirSync(dir)) {
    const { stdout: text } = await run('callgrind_annotate', ['--threshold=100', '--inclusive=no', join(dir, f)], { maxBuffer: 64 << 20 })
    for (const line of text.split('\n')) {
      // `1,234 (5.6%)  file:function [object]`; the file part is dropped (often `???`).
      const m = /^\s*([\d,]+)\s+\([^)]*\)\s+([^:\s]*:.+?)(?:\s+\[[^\]]*\])?$/.exec(line)
      if (!m) continue
      const fn = m[2]!.slice(m[2]!.indexOf(':') + 1)
      self.set(fn, (self.get(fn) ?? 0) + Number(m[1]!.replaceAll(',', '')))
    }
  }
  const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, n)
  return rows.map(([fn, count]) => `${Math.round(count / requests).toLocaleString('en').padStart(9)}  ${fn}`).join('\n') + '\n'
}

process.stderr.write(`${name}: ${warmup} warm-up requests under callgrind (minutes)...\n`)
await send(warmup)
const results: number[] = []
for (let rep = 1; rep <= reps; rep++) {
  await control('-z')
  await send(requests)
  for (const f of readdirSync(dir)) rmSync(join(dir, f))
  await control('-d')
  const total = readdirSync(dir).reduce((sum, f) => sum + Number(/(?:summary|totals):\s+(\d+)/.exec(readFileSync(join(dir, f), 'utf8'))?.[1] ?? 0), 0)
  results.push(Math.round(total / requests))
  process.stderr.write(`rep ${rep}/${reps}: ${results.at(-1)!.toLocaleString('en')} instructions/request\n`)
  if (rep === reps && top > 0) process.stderr.write(await costliest(top))
}
agent.destroy()
child.kill('SIGKILL')
await redis.stop()
rmSync(dir, { recursive: true, force: true })
console.log(JSON.stringify({ server: name, path, warmup, requests, instructionsPerRequest: results }))
process.exit(0)
