// Turns raw measurements into the summary kept in bench/results/<scenario>.json and the
// plain-text table printed at the end of a run.
import { arch, cpus, loadavg, platform, totalmem } from 'node:os'
import type { Measurement } from './load.js'
import type { Ratio } from '../scenarios.js'

export interface Settings {
  rounds: number
  duration: number
  warmup: number
  connections: number
  pipelining: number
  /** Seconds each turn waited at most for an idle machine (0: no waiting; absent in older results). */
  waitIdle?: number
  /** What the sessionmesh server ran: the tsc build of src/ (as published) or src/ through tsx. */
  sessionmesh: 'tsc build' | 'src via tsx'
}

export interface Machine {
  cpuModel: string
  cpus: number
  memoryGiB: number
  platform: string
  node: string
  /** 1-minute load average when the scenario started: other work on the machine adds noise. */
  loadBefore: number
}

export interface TargetSummary {
  name: string
  rps: { median: number; min: number; max: number }
  p50: number
  p99: number
  /** Median server CPU µs per request. */
  cpuUs: number | null
  rounds: Measurement[]
  /** Targets with a Redis store. */
  store?: StoreSummary
}

export interface StoreSummary {
  /**
   * Commands the server sent to Redis per request, counted with MONITOR over a separate
   * window of `countedRequests` requests (commands scripts run inside Redis left out):
   * the store round trips, as neither store pipelines commands within one request.
   */
  roundTrips: number
  /** The same, per command name (e.g. `{ get: 1, expire: 1 }`). */
  sent: Record<string, number>
  countedRequests: number
  /** Median over the measured rounds: commands Redis executed per request, Lua-internal ones included. */
  commandsExecuted: number
  /** Median over the measured rounds: redis-server CPU µs per request. */
  cpuUs: number | null
}

/** The private redis-server a scenario ran against, when it needs one. */
export interface StoreInfo {
  redis: string
  /** How round trips were counted. */
  counting: string
}

export interface RatioSummary extends Ratio {
  /** Ratio of the median req/s. */
  value: number
  /** The same ratio from server CPU per request (denominator's / numerator's): steadier under load. */
  cpuValue: number | null
  /** Spread of the per-round ratios (targets are interleaved, so each round is a fair pair). */
  roundMin: number
  roundMax: number
  met?: boolean
}

export interface ScenarioResult {
  scenario: string
  title: string
  description: string
  request: string
  date: string
  command: string
  machine: Machine
  settings: Settings
  targets: TargetSummary[]
  ratios: RatioSummary[]
  store?: StoreInfo
  /** What servers reported about themselves after the run (e.g. near-cache hits), by target. */
  serverStats?: Record<string, unknown>
}

export function machine(): Machine {
  const list = cpus()
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cpus: list.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    platform: `${platform()} ${arch()}`,
    node: process.version,
    loadBefore: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  }
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

export function summarizeTarget(
  name: string,
  rounds: Measurement[],
  counted?: { requests: number; commands: string[] },
): TargetSummary {
  const rps = rounds.map((m) => m.rps)
  const summary: TargetSummary = {
    name,
    rps: { median: median(rps), min: Math.min(...rps), max: Math.max(...rps) },
    p50: median(rounds.map((m) => m.p50)),
    p99: median(rounds.map((m) => m.p99)),
    cpuUs: rounds.every((m) => m.cpuUs !== null) ? median(rounds.map((m) => m.cpuUs as number)) : null,
    rounds,
  }
  if (counted) {
    const sent: Record<string, number> = {}
    for (const c of counted.commands) sent[c] = (sent[c] ?? 0) + 1
    for (const c of Object.keys(sent)) sent[c] = (sent[c] as number) / counted.requests
    const windows = rounds.map((m) => m.store).filter((w) => w !== undefined)
    summary.store = {
      roundTrips: counted.commands.length / counted.requests,
      sent,
      countedRequests: counted.requests,
      commandsExecuted: windows.length ? median(windows.map((w) => w.commandsPerRequest)) : Number.NaN,
      cpuUs: windows.length && windows.every((w) => w.cpuUs !== null) ? median(windows.map((w) => w.cpuUs as number)) : null,
    }
  }
  return summary
}

export function summarizeRatio(ratio: Ratio, targets: TargetSummary[]): RatioSummary {
  const find = (name: string) => {
    const t = targets.find((x) => x.name === name)
    if (!t) throw new Error(`ratio refers to unknown target ${name}`)
    return t
  }
  const num = find(ratio.numerator)
  const den = find(ratio.denominator)
  const perRound = num.rounds.map((m, i) => m.rps / (den.rounds[i]?.rps ?? Number.NaN))
  const value = num.rps.median / den.rps.median
  return {
    ...ratio,
    value,
    cpuValue: num.cpuUs && den.cpuUs ? den.cpuUs / num.cpuUs : null,
    roundMin: Math.min(...perRound),
    roundMax: Math.max(...perRound),
    ...(ratio.goal === undefined ? {} : { met: value >= ratio.goal }),
  }
}

export const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US')
export const fmtMs = (n: number): string => (n < 10 ? n.toFixed(1) : n.toFixed(0))
export const fmtX = (n: number): string => `${n.toFixed(2)}x`
export const fmtCpu = (n: number | null): string => (n === null ? 'n/a' : n.toFixed(0))
/** Round trips and commands per request: two decimals (a stray command shows). */
export const fmtPer = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : 'n/a')
/** `get 1.00 + expire 1.00` */
export const fmtSent = (sent: Record<string, number>): string =>
  Object.entries(sent)
    .sort((a, b) => b[1] - a[1])
    .map(([c, n]) => `${c} ${fmtPer(n)}`)
    .join(' + ') || 'none'

/** Min–max of a latency percentile over the rounds (older results without rounds: the median alone). */
export function latencyRange(t: TargetSummary, p: 'p50' | 'p99', sep: string): string {
  const values = t.rounds.map((m) => m[p])
  if (values.length === 0) return fmtMs(t[p])
  return `${fmtMs(Math.min(...values))}${sep}${fmtMs(Math.max(...values))}`
}

export function goalText(r: RatioSummary): string {
  if (r.goal === undefined) return ''
  return `target >= ${r.goal}x: ${r.met ? 'met' : 'NOT met'}`
}

export function textReport(result: ScenarioResult): string {
  const withStore = result.targets.some((t) => t.store)
  const rows = [
    ['target', 'req/s median', 'min - max', 'p50 ms', 'p99 ms', 'p99 min - max', 'server CPU µs/req', ...(withStore ? ['store round trips/req'] : [])],
    ...result.targets.map((t) => [
      t.name,
      fmtInt(t.rps.median),
      `${fmtInt(t.rps.min)} - ${fmtInt(t.rps.max)}`,
      fmtMs(t.p50),
      fmtMs(t.p99),
      latencyRange(t, 'p99', ' - '),
      fmtCpu(t.cpuUs),
      ...(withStore ? [t.store ? fmtPer(t.store.roundTrips) : '-'] : []),
    ]),
  ]
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
  const line = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('   ')
  const out = [`\n== ${result.scenario}: ${result.title} (${result.request}) ==`, line(rows[0]!)]
  out.push(widths.map((w) => '-'.repeat(w)).join('   '))
  for (const r of rows.slice(1)) out.push(line(r))
  out.push('')
  const stored = result.targets.filter((t) => t.store)
  if (stored.length) {
    out.push(`store (${result.store?.redis ?? 'redis'}):`)
    const w = Math.max(...stored.map((t) => t.name.length))
    for (const t of stored) {
      const s = t.store!
      out.push(
        `  ${t.name.padEnd(w)}   ${fmtPer(s.roundTrips)} round trips/request (${fmtSent(s.sent)}; MONITOR over ${fmtInt(s.countedRequests)} requests)   ${fmtPer(s.commandsExecuted)} commands executed/request incl. Lua   Redis CPU ${fmtCpu(s.cpuUs)} µs/request`,
      )
    }
    out.push('')
  }
  for (const r of result.ratios) {
    out.push(
      `${`${r.numerator} / ${r.denominator}`.padEnd(32)} ${fmtX(r.value).padStart(6)}   (per round ${fmtX(r.roundMin)} - ${fmtX(r.roundMax)}; by CPU/req ${r.cpuValue === null ? 'n/a' : fmtX(r.cpuValue)})   ${goalText(r)}`,
    )
  }
  return out.join('\n')
}
