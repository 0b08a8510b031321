// Scenarios that are not "load-test some HTTP servers" (those are in bench/scenarios.ts):
// each runs itself, returns a JSON-able result (saved as bench/results/<name>.json), and
// renders it as text and as its docs/BENCHMARKS.md section. Registered in bench/registry.ts.
import type { Settings } from './report.js'

export interface RunContext {
  settings: Settings
  /** The command line as typed, for the results and the docs. */
  command: string
  log: (line: string) => void
  /**
   * Environment for child processes that load sessionmesh (bench/servers/sessionmesh-app.ts's
   * `load`): SESSIONMESH_ROOT pointing at the tsc build, made on the first call; empty with --from-src.
   */
  sessionmeshEnv: () => Record<string, string>
}

export interface CustomScenario<R = unknown> {
  name: string
  /** One line for --help. */
  summary: string
  run(ctx: RunContext): Promise<R>
  /** The table printed at the end of a run. */
  text(result: R): string
  /** What the runner writes between `<!-- bench:<name> -->` and `<!-- /bench:<name> -->`. */
  markdown(result: R): string
}
