// Fault-injection runner: `npm run chaos -- [fault...] [--short] [--docs] [--docs-only] [--results DIR]`.
// Each fault starts its own redis-server processes (free ports, private directories) and its
// app processes; nothing touches a Redis on 6379. Writes chaos/results/<fault>[.short].json.
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { faults } from './faults/index.js'
import { updateReliabilityDoc } from './lib/docs.js'
import { runFault } from './lib/runner.js'
import type { FaultResult } from './lib/types.js'

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url))
const DOC = fileURLToPath(new URL('../docs/RELIABILITY.md', import.meta.url))

const USAGE = `usage: npm run chaos -- [fault...] [options]
faults: ${faults.map((f) => f.name).join(', ')} (default: all)
  --short        the CI variant: shorter loads, fewer cycles and cases, the same checks
  --docs         also rewrite the faults' sections of docs/RELIABILITY.md (full runs only)
  --docs-only    rewrite docs/RELIABILITY.md from chaos/results/*.json, run nothing
  --results DIR  where to write <fault>[.short].json (default chaos/results)
Exit status 1 when a verdict check failed. Timing targets (e.g. recovery within 2 s) are
reported and recorded, not verdicts.`

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    short: { type: 'boolean', default: false },
    docs: { type: 'boolean', default: false },
    'docs-only': { type: 'boolean', default: false },
    results: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (values.help) {
  process.stdout.write(`${USAGE}\n`)
  process.exit(0)
}
const unknown = positionals.filter((p) => !faults.some((f) => f.name === p))
if (unknown.length) {
  process.stderr.write(`unknown fault ${unknown.join(', ')}\n${USAGE}\n`)
  process.exit(2)
}
const selected = positionals.length ? faults.filter((f) => positionals.includes(f.name)) : faults
const resultsDir = values.results ?? RESULTS

async function readResults(): Promise<FaultResult[]> {
  const out: FaultResult[] = []
  for (const f of faults) {
    try {
      out.push(JSON.parse(await readFile(join(RESULTS, `${f.name}.json`), 'utf8')) as FaultResult)
    } catch {
      // not run yet
    }
  }
  return out
}

function summaryTable(results: FaultResult[]): string {
  const rows = results.map((r) => [r.fault, r.passed ? 'pass' : 'FAIL', `${(r.durationMs / 1000).toFixed(1)} s`, r.headline])
  const head = ['fault', 'verdict', 'time', 'figure']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

if (values['docs-only']) {
  const results = await readResults()
  await updateReliabilityDoc(DOC, results, (line) => process.stdout.write(`${line}\n`))
  process.exit(0)
}

await mkdir(resultsDir, { recursive: true })
const results: FaultResult[] = []
const startedAll = Date.now()
for (const fault of selected) {
  let result: FaultResult
  try {
    result = await runFault(fault, { short: values.short })
  } catch (e) {
    process.stdout.write(`[${fault.name}] the run itself failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    result = {
      fault: fault.name,
      short: values.short,
      date: new Date().toISOString(),
      durationMs: 0,
      passed: false,
      checks: [{ name: 'the run completed', kind: 'verdict', ok: false, detail: e instanceof Error ? e.message : String(e) }],
      headline: `run failed: ${e instanceof Error ? e.message : String(e)}`.slice(0, 200),
      figures: {},
      table: [],
      machine: (await import('./lib/machine.js')).machine(),
    }
  }
  results.push(result)
  const file = join(resultsDir, `${fault.name}${values.short ? '.short' : ''}.json`)
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`)
  process.stdout.write(`[${fault.name}] ${result.passed ? 'PASS' : 'FAIL'} in ${(result.durationMs / 1000).toFixed(1)} s; wrote ${file}\n`)
}

process.stdout.write(`\n${summaryTable(results)}\n\n${results.filter((r) => r.passed).length}/${results.length} passed in ${((Date.now() - startedAll) / 1000).toFixed(1)} s\n`)

if (values.docs) {
  if (values.short) process.stdout.write('--docs ignored with --short: the docs record full runs only\n')
  else if (values.results) process.stdout.write('--docs ignored with --results: the docs are written from chaos/results\n')
  else await updateReliabilityDoc(DOC, await readResults(), (line) => process.stdout.write(`${line}\n`))
}
process.exitCode = results.every((r) => r.passed) ? 0 : 1
