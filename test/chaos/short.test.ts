/**
 * The short variant of every chaos fault (`npm run chaos -- --short`), through the runner's
 * own code, in this process (each fault still starts its app and Redis processes). Asserts
 * the verdicts only: no crash, only the documented answers, recovery happened, zero lost
 * acknowledged saves, zero 5xx in the fuzz. Timings (the 2 s recovery target, heap growth)
 * are reported by the runner and recorded in docs/RELIABILITY.md, not asserted here.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { faults } from '../../chaos/faults/index.js'
import { runFault } from '../../chaos/lib/runner.js'

describe('chaos faults, short variant', () => {
  for (const fault of faults) {
    it(`${fault.name}: every verdict check passes`, { timeout: 120_000 }, async (t) => {
      const lines: string[] = []
      const result = await runFault(fault, { short: true, print: (line) => lines.push(line) })
      t.diagnostic(`${fault.name}: ${result.headline} (${(result.durationMs / 1000).toFixed(1)} s)`)
      const failed = result.checks.filter((c) => c.kind === 'verdict' && !c.ok)
      assert.deepEqual(
        failed.map((c) => `${c.name}: ${c.detail}`),
        [],
        `${fault.name} failed verdicts; runner output:\n${lines.slice(-30).join('\n')}`,
      )
      assert.ok(result.passed)
    })
  }
})
