// Benchmark runner: `npm run bench [-- <scenario>...] [--rounds N] [--duration S] ...`
// Each server runs in its own child process; load comes from autocannon in this process.
// Redis scenarios also get one private redis-server, a child of this process too.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { buildSessionmesh } from './lib/build.js'
import { type LoadSpec, measure, type Measurement } from './lib/load.js'
import { updateDoc, writeSection } from './lib/markdown.js'
import { summarizeProfileDir } from './lib/profile.js'
import { machineBusyMs, MAX_ATTEMPTS, OTHERS_LIMIT, processCpuMs, waitForIdleMachine } from './lib/cpu.js'
import { type BenchRedis, commandName, startRedis } from './lib/redis.js'
import { machine, type ScenarioResult, type Settings, summarizeRatio, summarizeTarget, textReport, fmtCpu, fmtInt, fmtMs } from './lib/report.js'
import { installCleanup, killAllServers, type RunningServer, startServer } from './lib/servers.js'
import { prepareTarget, type Scenario, type Target, withBaseline } from './scenarios.js'
import { buildBaseline } from './lib/build.js'
import { customScenarios, httpScenarios as scenarios, scenarioNames } from './registry.js'
import type { CustomScenario, RunContext } from './lib/custom.js'

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url))
const DOC = fileURLToPath(new URL('../docs/BENCHMARKS.md', import.meta.url))

const USAGE = `usage: npm run bench -- [scenario...] [options]
scenarios (default: all):
${scenarios.map((s) => `  ${s.name.padEnd(17)} ${s.title}: ${s.targets.map((t) => t.name).join(' / ')}`).join('\n')}
${customScenarios.map((s) => `  ${s.name.padEnd(17)} ${s.summary}`).join('\n')}
  --rounds N        interleaved rounds per scenario (default 3)
  --duration S      measured seconds per target per round (default 5)
  --warmup S        warm-up seconds before each measurement (default 2)
  --connections N   concurrent connections (default 50)
  --pipelining N    requests in flight per connection (default 1)
  --wait-idle S     before each target's turn, wait up to S seconds until the machine's
                    CPU is < 15 % busy, and measure a turn again (at most 5 attempts)
                    when other processes used > 10 % of the CPU during it (default 0: off)
  --docs            also rewrite the scenario's section of docs/BENCHMARKS.md
                    (between <!-- bench:<scenario> --> and <!-- /bench:<scenario> -->)
  --docs-only       rewrite docs/BENCHMARKS.md from bench/results/*.json, run nothing
  --from-src        run sessionmesh from src/ through tsx instead of a fresh tsc build
  --baseline REV    A/B in the same run: also build git revision REV's src/ and measure
                    each sessionmesh target from it too (\`<target> @REV\`, own key prefix),
                    with a ratio of this tree's figure to REV's (results not saved to docs)
  --profile SERVER  run bench/servers/SERVER.ts with --cpu-prof and print its hottest
                    functions (results are then not saved)
Scenarios with Redis targets (redis-*) start one private redis-server (free port, no
persistence) and stop it at the end; lock and memory start their own. Set REDIS_SERVER
to use another binary.`

function options() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '50' },
      pipelining: { type: 'string', default: '1' },
      'wait-idle': { type: 'string', default: '0' },
      docs: { type: 'boolean', default: false },
      'docs-only': { type: 'boolean', default: false },
      profile: { type: 'string' },
      'from-src': { type: 'boolean', default: false },
      baseline: { type: 'string' },
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
  const unknown = positionals.filter((p) => !scenarioNames.includes(p))
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}\n${USAGE}`)
  const settings: Settings = {
    rounds: Math.floor(num('rounds', 1)),
    duration: num('duration', 1),
    warmup: num('warmup', 0),
    connections: Math.floor(num('connections', 1)),
    pipelining: Math.floor(num('pipelining', 1)),
    waitIdle: num('wait-idle', 0),
    sessionmesh: values['from-src'] ? 'src via tsx' : 'tsc build',
  }
  return {
    help: values.help,
    selected: positionals.length ? scenarios.filter((s) => positionals.includes(s.name)) : scenarios,
    custom: positionals.length ? customScenarios.filter((s) => positionals.includes(s.name)) : customScenarios,
    settings,
    docs: values.docs,
    docsOnly: values['docs-only'],
    baseline: values.baseline,
    profile: values.profile,
  }
}

/** Matches .gitignore's `bench/results/*.tmp`, so profiles never get committed. */
const profileDir = (scenario: string, server: string) => `${RESULTS}profile-${scenario}-${server}.tmp`
const log = (line: string): void => void process.stdout.write(`${line}\n`)
/** Requests in the separate MONITOR window that counts each Redis target's round trips. */
const COUNTED_REQUESTS = 2000
const pct = (share: number) => `${Math.round(share * 100)} %`

async function runScenario(
  scenario: Scenario,
  settings: Settings,
  env: Record<string, string>,
  profile: string | undefined,
  redis: BenchRedis | undefined,
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
          { ...env, ...t.env },
        ),
      ),
    )
    scenario.targets.forEach((t, i) => servers.set(t.name, started[i]!))
    const width = Math.max(16, ...scenario.targets.map((t) => t.name.length))
    const cookies = new Map<string, string[]>()
    for (const t of scenario.targets) {
      const s = servers.get(t.name)!
      const sessions = await prepareTarget(scenario, t, s.origin, settings.connections)
      cookies.set(t.name, sessions)
      log(`[${scenario.name}] ${t.name.padEnd(width)} pid ${s.child.pid} port ${s.port}: checks passed${sessions.length > 1 ? ` (${sessions.length} sessions, one per connection per window)` : ''}`)
    }
    const specOf = (t: Target): Omit<LoadSpec, 'duration'> => ({
      origin: servers.get(t.name)!.origin,
      method: scenario.method,
      path: scenario.path,
      headers: {},
      cookies: cookies.get(t.name)!,
      connections: settings.connections,
      pipelining: settings.pipelining,
      verifyBody: (body: string) => scenario.verifyBody(body),
      pid: servers.get(t.name)!.child.pid,
    })
    /** CPU ms the benchmark's own processes have used so far: this runner, the target's server, redis-server. */
    const ownCpuMs = (t: Target): number | null => {
      const server = processCpuMs(servers.get(t.name)!.child.pid)
      const store = redis ? processCpuMs(redis.pid) : 0
      if (server === null || store === null) return null
      const runner = process.cpuUsage()
      return server + store + (runner.user + runner.system) / 1000
    }
    /** One measured window; for a Redis target, also what Redis executed and spent meanwhile. */
    const measured = async (t: Target): Promise<Measurement> => {
      const spec = { ...specOf(t), duration: settings.duration }
      const storeWindow = t.store === 'redis' && redis
      if (storeWindow) await redis.quiet()
      const commandsBefore = storeWindow ? await redis.commandsProcessed() : 0
      const redisCpuBefore = storeWindow ? processCpuMs(redis.pid) : null
      const wallBefore = performance.now()
      const busyBefore = machineBusyMs()
      const ownBefore = ownCpuMs(t)
      const runnerBefore = process.cpuUsage()
      const m = await measure(spec)
      const runner = process.cpuUsage(runnerBefore)
      const ownAfter = ownCpuMs(t)
      const busyAfter = machineBusyMs()
      const wall = performance.now() - wallBefore
      m.othersCpu =
        busyBefore === null || busyAfter === null || ownBefore === null || ownAfter === null
          ? null
          : Math.max(0, busyAfter - busyBefore - (ownAfter - ownBefore)) / (wall * cpus().length)
      m.loadCpuUs = (runner.user + runner.system) / m.requests
      if (storeWindow) {
        const redisCpuAfter = processCpuMs(redis.pid)
        const commands = (await redis.commandsProcessed()) - commandsBefore - redis.infoOverhead
        m.store = {
          commandsPerRequest: commands / m.requests,
          cpuUs: redisCpuBefore === null || redisCpuAfter === null ? null : ((redisCpuAfter - redisCpuBefore) * 1000) / m.requests,
        }
      }
      return m
    }
    /** One target's turn: (wait for an idle machine,) warm up, measure; again if other work got in the way. */
    const turn = async (t: Target): Promise<Measurement> => {
      for (let attempt = 1; ; attempt++) {
        if (settings.waitIdle) {
          const w = await waitForIdleMachine(settings.waitIdle)
          if (w.waited >= 2 || !w.idle) {
            log(`[${scenario.name}] waited ${w.waited.toFixed(0)} s for other work on the machine${w.idle ? '' : ' (still busy; measuring anyway)'}`)
          }
        }
        if (settings.warmup > 0) await measure({ ...specOf(t), duration: settings.warmup })
        const m = await measured(t)
        const others = m.othersCpu
        if (!settings.waitIdle || others === null || others === undefined || others <= OTHERS_LIMIT || attempt >= MAX_ATTEMPTS) return m
        log(`[${scenario.name}] ${t.name}: other processes used ${pct(others)} of the machine's CPU during the turn (${fmtInt(m.rps)} req/s); measuring it again`)
      }
    }

    const rounds = new Map<string, Measurement[]>(scenario.targets.map((t) => [t.name, []]))
    for (let round = 0; round < settings.rounds; round++) {
      // Rotate the order each round so no target always runs first (or right after another).
      const order = scenario.targets.map((_, i) => scenario.targets[(i + round) % scenario.targets.length]!)
      for (const t of order) {
        const m = await turn(t)
        rounds.get(t.name)!.push(m)
        const store = m.store ? `   Redis: ${m.store.commandsPerRequest.toFixed(2)} commands, CPU ${fmtCpu(m.store.cpuUs)} µs/req` : ''
        log(
          `[${scenario.name}] round ${round + 1}/${settings.rounds}  ${t.name.padEnd(width)} ${fmtInt(m.rps).padStart(7)} req/s   p50 ${fmtMs(m.p50)} ms   p99 ${fmtMs(m.p99)} ms   server CPU ${fmtCpu(m.cpuUs)} µs/req${store}   load generator CPU ${fmtCpu(m.loadCpuUs ?? null)} µs/req   (${fmtInt(m.requests)} requests, all verified${m.othersCpu == null ? '' : `; other processes ${pct(m.othersCpu)} CPU`})`,
        )
      }
    }

    // Round trips: a separate, short window per Redis target with MONITOR on (which slows
    // Redis, so never during a measured window). Only that target is under load meanwhile.
    const counted = new Map<string, { requests: number; commands: string[] }>()
    for (const t of scenario.targets) {
      if (t.store !== 'redis' || !redis) continue
      let requests = 0
      const lines = await redis.commandsSentDuring(async () => {
        requests = (await measure({ ...specOf(t), duration: settings.duration, amount: COUNTED_REQUESTS })).requests
        // Anything a server sends after its last answer still belongs to the window.
        await new Promise((r) => setTimeout(r, 200))
      })
      const commands = lines.map(commandName)
      counted.set(t.name, { requests, commands })
      log(`[${scenario.name}] ${t.name.padEnd(width)} sent ${fmtInt(commands.length)} Redis commands for ${fmtInt(requests)} requests (MONITOR, Lua-internal calls left out)`)
    }

    const serverStats: Record<string, unknown> = {}
    for (const t of scenario.targets) {
      if (!t.statsPath) continue
      const res = await fetch(servers.get(t.name)!.origin + t.statsPath)
      serverStats[t.name] = await res.json()
      log(`[${scenario.name}] ${t.name.padEnd(width)} reports ${JSON.stringify(serverStats[t.name])}`)
    }

    const targets = scenario.targets.map((t) => summarizeTarget(t.name, rounds.get(t.name)!, counted.get(t.name)))
    return {
      scenario: scenario.name,
      title: scenario.title,
      description: scenario.description,
      request: `${scenario.method} ${scenario.path}`,
      date: new Date().toISOString(),
      command: commandLine(),
      machine: machineAtStart,
      settings,
      targets,
      ratios: scenario.ratios.map((r) => summarizeRatio(r, targets)),
      ...(Object.keys(serverStats).length ? { serverStats } : {}),
      ...(redis && scenario.targets.some((t) => t.store === 'redis')
        ? {
            store: {
              redis: `one private redis-server ${redis.version} (free loopback port, \`--save "" --appendonly no\`) shared by both session servers, each with its own key prefix`,
              counting: `Round trips are the commands each server sent, counted with MONITOR over a separate window of ${fmtInt(COUNTED_REQUESTS)} requests (lines Redis tags \`lua\` left out: Redis ${redis.version} counts a script's internal calls in \`total_commands_processed\`, which gives the "executed" column, from \`INFO stats\` around each measured window); Redis CPU is redis-server's user + system time over the measured windows.`,
            },
          }
        : {}),
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

/** The command line as typed, recorded in results and docs. */
const commandLine = (): string => {
  const args = process.argv.slice(2)
  return `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`
}

/** A custom scenario: it runs itself; saved, printed, and (with --docs) written into its docs section. */
async function runCustom(scenario: CustomScenario, ctx: RunContext, docs: boolean): Promise<string> {
  const result = await scenario.run(ctx)
  await mkdir(RESULTS, { recursive: true })
  await writeFile(`${RESULTS}${scenario.name}.json`, `${JSON.stringify(result, null, 2)}\n`)
  if (docs) {
    const ok = await writeSection(DOC, scenario.name, scenario.markdown(result))
    log(ok ? `[${scenario.name}] docs/BENCHMARKS.md section rewritten` : `[${scenario.name}] no markers in docs/BENCHMARKS.md; section not written`)
  }
  return scenario.text(result)
}

async function customDocsFromResults(selected: CustomScenario[]): Promise<void> {
  for (const s of selected) {
    let result: unknown
    try {
      result = JSON.parse(await readFile(`${RESULTS}${s.name}.json`, 'utf8'))
    } catch {
      log(`no bench/results/${s.name}.json; run the scenario first`)
      continue
    }
    log(`${s.name}: ${(await writeSection(DOC, s.name, s.markdown(result))) ? 'docs/BENCHMARKS.md updated' : 'no markers in docs/BENCHMARKS.md'}`)
  }
}

async function main(): Promise<void> {
  const opts = options()
  if (opts.help) return log(USAGE)
  if (opts.docsOnly) {
    await docsFromResults(opts.selected)
    await customDocsFromResults(opts.custom)
    return
  }
  const custom = opts.profile === undefined ? opts.custom : []
  if (opts.selected.length === 0 && custom.length === 0) return
  installCleanup()
  const m = machine()
  log(`sessionmesh bench: ${m.cpus} × ${m.cpuModel}, Node ${m.node}; ${JSON.stringify(opts.settings)}`)
  // sessionmesh runs from its tsc build (made once, on first need) unless --from-src.
  let built: string | undefined
  const sessionmeshEnv = (): Record<string, string> => {
    if (opts.settings.sessionmesh !== 'tsc build') return {}
    if (built === undefined) {
      built = buildSessionmesh()
      log('compiled src/ with tsc into bench/results/dist.tmp for sessionmesh')
    }
    return { SESSIONMESH_ROOT: built }
  }
  const texts: string[] = []
  const results: ScenarioResult[] = []
  if (opts.baseline !== undefined) {
    if (opts.docs) throw new Error('--baseline runs are A/B comparisons; they do not rewrite docs/BENCHMARKS.md')
    const root = buildBaseline(opts.baseline)
    log(`compiled ${opts.baseline}'s src/ with tsc into ${root} for the baseline targets`)
    opts.selected = opts.selected.map((s) => withBaseline(s, opts.baseline as string, root))
  }
  if (opts.selected.length) {
    const env: Record<string, string> = { ...sessionmeshEnv() }
    // One private redis-server for every scenario that needs one (each server has its own key
    // prefix, so nothing is flushed between targets); stopped at the end, and by the cleanup
    // handlers on Ctrl-C or failure.
    let redis: BenchRedis | undefined
    if (opts.selected.some((s) => s.targets.some((t) => t.store === 'redis'))) {
      redis = await startRedis()
      env.BENCH_REDIS_URL = redis.url
      log(`started a private redis-server ${redis.version} on port ${redis.port} (pid ${redis.pid}, no persistence)`)
    }
    try {
      for (const scenario of opts.selected) {
        const result = await runScenario(scenario, opts.settings, env, opts.profile, redis)
        results.push(result)
        texts.push(textReport(result))
        if (opts.profile) continue
        await mkdir(RESULTS, { recursive: true })
        // An A/B run's figures stay beside the recorded ones, git-ignored (*.tmp).
        const file = opts.baseline === undefined ? `${scenario.name}.json` : `${scenario.name}-ab.tmp`
        await writeFile(`${RESULTS}${file}`, `${JSON.stringify(result, null, 2)}\n`)
        if (opts.docs) {
          const ok = await updateDoc(DOC, result)
          log(ok ? `[${scenario.name}] docs/BENCHMARKS.md section rewritten` : `[${scenario.name}] no markers in docs/BENCHMARKS.md; section not written`)
        }
      }
    } finally {
      await redis?.stop()
    }
  }
  const ctx: RunContext = { settings: opts.settings, command: commandLine(), log, sessionmeshEnv }
  for (const scenario of custom) texts.push(await runCustom(scenario, ctx, opts.docs))
  for (const t of texts) log(t)
  if (opts.profile) {
    for (const r of results) {
      log(`\n== CPU profile of ${opts.profile} during ${r.scenario} ==\n${await summarizeProfileDir(profileDir(r.scenario, opts.profile))}`)
    }
  } else {
    const files = [...results.map((r) => (opts.baseline === undefined ? `${r.scenario}.json` : `${r.scenario}-ab.tmp`)), ...custom.map((c) => `${c.name}.json`)]
    log(`\nresults: ${files.map((f) => `bench/results/${f}`).join(', ')}`)
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
