// Benchmark runner: `npm run bench [-- <scenario>...] [--rounds N] [--duration S] ...`
// Each server runs in its own child process; load comes from autocannon in this process.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { buildSessionmesh } from './lib/build.js'
import { measure, type Measurement } from './lib/load.js'
import { updateDoc } from './lib/markdown.js'
import { summarizeProfileDir } from './lib/profile.js'
import { machine, type ScenarioResult, type Settings, summarizeRatio, summarizeTarget, textReport, fmtCpu, fmtInt, fmtMs } from './lib/report.js'
import { installCleanup, killAllServers, type RunningServer, startServer } from './lib/servers.js'
import { prepareTarget, type Scenario, scenarios } from './scenarios.js'

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url))
const DOC = fileURLToPath(new URL('../docs/BENCHMARKS.md', import.meta.url))

const USAGE = `usage: npm run bench -- [scenario...] [options]
scenarios: ${scenarios.map((s) => s.name).join(', ')} (default: all)
  --rounds N        interleaved rounds per scenario (default 3)
  --duration S      measured seconds per target per round (default 5)
  --warmup S        warm-up seconds before each measurement (default 2)
  --connections N   concurrent connections (default 50)
  --pipelining N    requests in flight per connection (default 1)
  --docs            also rewrite the scenario's section of docs/BENCHMARKS.md
  --docs-only       rewrite docs/BENCHMARKS.md from bench/results/*.json, run nothing
  --from-src        run sessionmesh from src/ through tsx instead of a fresh tsc build
  --profile SERVER  run bench/servers/SERVER.ts with --cpu-prof and print its hottest
                    functions (results are then not saved)`

function options() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '50' },
      pipelining: { type: 'string', default: '1' },
      docs: { type: 'boolean', default: false },
      'docs-only': { type: 'boolean', default: false },
      profile: { type: 'string' },
      'from-src': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  const num = (name: keyof typeof values, min: number): number => {
    const n = Number(values[name])
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}`)
    return n
  }
  if (values.profile !== undefined && !scenarios.some((s) => s.targets.some((t) => t.server === values.profile))) {
    throw new Error(`--profile takes a server name: ${[...new Set(scenarios.flatMap((s) => s.targets.map((t) => t.server)))].join(', ')}`)
  }
  const unknown = positionals.filter((p) => !scenarios.some((s) => s.name === p))
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}\n${USAGE}`)
  const settings: Settings = {
    rounds: Math.floor(num('rounds', 1)),
    duration: num('duration', 1),
    warmup: num('warmup', 0),
    connections: Math.floor(num('connections', 1)),
    pipelining: Math.floor(num('pipelining', 1)),
    sessionmesh: values['from-src'] ? 'src via tsx' : 'tsc build',
  }
  return {
    help: values.help,
    selected: positionals.length ? scenarios.filter((s) => positionals.includes(s.name)) : scenarios,
    settings,
    docs: values.docs,
    docsOnly: values['docs-only'],
    profile: values.profile,
  }
}

/** Matches .gitignore's `bench/results/*.tmp`, so profiles never get committed. */
const profileDir = (scenario: string, server: string) => `${RESULTS}profile-${scenario}-${server}.tmp`
const log = (line: string): void => void process.stdout.write(`${line}\n`)

async function runScenario(
  scenario: Scenario,
  settings: Settings,
  env: Record<string, string>,
  profile: string | undefined,
): Promise<ScenarioResult> {
  const machineAtStart = machine()
  log(`\n[${scenario.name}] ${scenario.title}: starting ${scenario.targets.length} servers (load average ${machineAtStart.loadBefore})`)
  const servers = new Map<string, RunningServer>()
  if (profile) await rm(profileDir(scenario.name, profile), { recursive: true, force: true })
  try {
    const started = await Promise.all(
      scenario.targets.map((t) =>
        startServer(
          t.server,
          t.server === profile
            ? ['--cpu-prof', '--cpu-prof-dir', profileDir(scenario.name, t.server)]
            : [],
          env,
        ),
      ),
    )
    scenario.targets.forEach((t, i) => servers.set(t.name, started[i]!))
    const cookies = new Map<string, string | undefined>()
    for (const t of scenario.targets) {
      const s = servers.get(t.name)!
      cookies.set(t.name, await prepareTarget(scenario, t, s.origin))
      log(`[${scenario.name}] ${t.name.padEnd(16)} pid ${s.child.pid} port ${s.port}: checks passed`)
    }

    const rounds = new Map<string, Measurement[]>(scenario.targets.map((t) => [t.name, []]))
    for (let round = 0; round < settings.rounds; round++) {
      // Rotate the order each round so no target always runs first (or right after another).
      const order = scenario.targets.map((_, i) => scenario.targets[(i + round) % scenario.targets.length]!)
      for (const t of order) {
        const cookie = cookies.get(t.name)
        const headers: Record<string, string> = cookie ? { cookie } : {}
        const spec = {
          origin: servers.get(t.name)!.origin,
          method: scenario.method,
          path: scenario.path,
          headers,
          connections: settings.connections,
          pipelining: settings.pipelining,
          verifyBody: (body: string) => scenario.verifyBody(body),
          pid: servers.get(t.name)!.child.pid,
        }
        if (settings.warmup > 0) await measure({ ...spec, duration: settings.warmup })
        const m = await measure({ ...spec, duration: settings.duration })
        rounds.get(t.name)!.push(m)
        log(
          `[${scenario.name}] round ${round + 1}/${settings.rounds}  ${t.name.padEnd(16)} ${fmtInt(m.rps).padStart(7)} req/s   p50 ${fmtMs(m.p50)} ms   p99 ${fmtMs(m.p99)} ms   server CPU ${fmtCpu(m.cpuUs)} µs/req   (${fmtInt(m.requests)} requests, all verified)`,
        )
      }
    }

    const targets = scenario.targets.map((t) => summarizeTarget(t.name, rounds.get(t.name)!))
    const args = process.argv.slice(2)
    return {
      scenario: scenario.name,
      title: scenario.title,
      description: scenario.description,
      request: `${scenario.method} ${scenario.path}`,
      date: new Date().toISOString(),
      command: `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`,
      machine: machineAtStart,
      settings,
      targets,
      ratios: scenario.ratios.map((r) => summarizeRatio(r, targets)),
    }
  } finally {
    await Promise.all([...servers.values()].map((s) => s.stop()))
  }
}

async function docsFromResults(selected: Scenario[]): Promise<void> {
  for (const s of selected) {
    let result: ScenarioResult
    try {
      result = JSON.parse(await readFile(`${RESULTS}${s.name}.json`, 'utf8')) as ScenarioResult
    } catch {
      log(`no bench/results/${s.name}.json; run the scenario first`)
      continue
    }
    log(`${s.name}: ${(await updateDoc(DOC, result)) ? 'docs/BENCHMARKS.md updated' : 'no markers in docs/BENCHMARKS.md'}`)
  }
}

async function main(): Promise<void> {
  const opts = options()
  if (opts.help) return log(USAGE)
  if (opts.docsOnly) return docsFromResults(opts.selected)
  installCleanup()
  const m = machine()
  log(`sessionmesh bench: ${m.cpus} × ${m.cpuModel}, Node ${m.node}; ${JSON.stringify(opts.settings)}`)
  const env: Record<string, string> = {}
  if (opts.settings.sessionmesh === 'tsc build') {
    env.SESSIONMESH_ROOT = buildSessionmesh()
    log('compiled src/ with tsc into bench/results/dist.tmp for the sessionmesh server')
  }
  const results: ScenarioResult[] = []
  for (const scenario of opts.selected) {
    const result = await runScenario(scenario, opts.settings, env, opts.profile)
    results.push(result)
    if (opts.profile) continue
    await mkdir(RESULTS, { recursive: true })
    await writeFile(`${RESULTS}${scenario.name}.json`, `${JSON.stringify(result, null, 2)}\n`)
    if (opts.docs) {
      const ok = await updateDoc(DOC, result)
      log(ok ? `[${scenario.name}] docs/BENCHMARKS.md section rewritten` : `[${scenario.name}] no markers in docs/BENCHMARKS.md; section not written`)
    }
  }
  for (const r of results) log(textReport(r))
  if (opts.profile) {
    for (const r of results) {
      log(`\n== CPU profile of ${opts.profile} during ${r.scenario} ==\n${await summarizeProfileDir(profileDir(r.scenario, opts.profile))}`)
    }
  } else {
    log(`\nresults: ${results.map((r) => `bench/results/${r.scenario}.json`).join(', ')}`)
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`\nbench failed: ${e instanceof Error ? e.message : String(e)}\n`)
    killAllServers()
    process.exit(1)
  },
)
