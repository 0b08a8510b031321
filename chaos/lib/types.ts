/** What a fault is and what running one produces. */

export interface FaultContext {
  /** The CI variant: shorter loads, fewer cycles and cases; same checks. */
  short: boolean
  /** Progress lines (the runner prefixes the fault's name and the elapsed time). */
  log(message: string): void
}

/**
 * One checked claim. A `verdict` check decides pass/fail (and the short test asserts it); a
 * `target` is a measured goal (a timing) that is reported and recorded in the docs only.
 */
export interface Check {
  name: string
  kind: 'verdict' | 'target'
  ok: boolean
  detail: string
}

export interface FaultResult {
  fault: string
  short: boolean
  date: string
  durationMs: number
  /** True when every `verdict` check passed. */
  passed: boolean
  checks: Check[]
  /** The headline figure, one line (the summary table's last column). */
  headline: string
  /** Every measured number, for the JSON file and the docs. */
  figures: Record<string, unknown>
  /** Extra rows for the docs: [label, value]. */
  table: Array<[string, string]>
  machine: { cpus: number; cpuModel: string; node: string; platform: string; loadBefore: string }
}

export interface Fault {
  name: string
  /** One sentence: what is done to the system. */
  summary: string
  run(ctx: FaultContext): Promise<Omit<FaultResult, 'fault' | 'short' | 'date' | 'durationMs' | 'passed' | 'machine'>>
}

export const verdict = (name: string, ok: boolean, detail = ''): Check => ({ name, kind: 'verdict', ok, detail })
export const target = (name: string, ok: boolean, detail = ''): Check => ({ name, kind: 'target', ok, detail })

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
export const ms = (n: number | null | undefined) => (n === null || n === undefined || !Number.isFinite(n) ? 'n/a' : `${Math.round(n).toLocaleString('en-US')} ms`)
export const int = (n: number) => Math.round(n).toLocaleString('en-US')
/** A lost count, or why there is none (NaN: not checked because the app crashed). */
export const lostText = (n: number) => (Number.isNaN(n) ? 'not checked (the app crashed)' : int(n))
