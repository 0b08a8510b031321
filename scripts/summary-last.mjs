// Pipe filter for CI logs: passes node's test-runner output through unchanged, except that
// the final summary block (ℹ tests / suites / pass / fail / cancelled / skipped / todo /
// duration_ms) is held back and printed last. Node 20's spec reporter prints its
// "✖ failing tests:" recap after the summary; with this filter the counts are always the
// last lines of the log.   usage: npm test 2>&1 | node scripts/summary-last.mjs
import { createInterface } from 'node:readline'

// Top-level summary lines only (nested diagnostics are indented); allows a colour prefix.
const ESC = String.fromCharCode(27)
const SUMMARY = new RegExp(`^(?:${ESC}\\[[0-9;]*m)*ℹ (?:tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) `)

const held = []
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of lines) {
  if (SUMMARY.test(line)) held.push(line)
  else process.stdout.write(line + '\n')
}
if (held.length > 0) process.stdout.write('\n' + held.join('\n') + '\n')
