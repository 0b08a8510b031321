// Rewrites the generated parts of docs/RELIABILITY.md from chaos results: each fault's section
// between `<!-- chaos:<fault> -->` and `<!-- /chaos:<fault> -->`, and the summary between
// `<!-- chaos:summary -->` and `<!-- /chaos:summary -->`. Figures are never written by hand.
import { readFile, writeFile } from 'node:fs/promises'
import type { FaultResult } from './types.js'

const cell = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ')

export function faultSection(r: FaultResult): string {
  const m = r.machine
  return [
    `_Measured by \`npm run chaos -- ${r.fault}\` on ${r.date.slice(0, 10)} (${(r.durationMs / 1000).toFixed(0)} s): ${m.cpus} × ${m.cpuModel}, ${m.platform}, Node ${m.node}, load average ${m.loadBefore} at start. Verdict: **${r.passed ? 'pass' : 'FAIL'}**._`,
    '',
    '| measured | value |',
    '|---|---|',
    ...r.table.map(([k, v]) => `| ${cell(k)} | ${cell(v)} |`),
    '',
    '| check | kind | result | detail |',
    '|---|---|:---:|---|',
    ...r.checks.map((c) => `| ${cell(c.name)} | ${c.kind} | ${c.ok ? 'yes' : '**no**'} | ${cell(c.detail)} |`),
  ].join('\n')
}

export function summarySection(results: FaultResult[]): string {
  return [
    '| fault | verdict | figure (headline) | run on |',
    '|---|:---:|---|---|',
    ...results.map((r) => `| [${r.fault}](#${r.fault}) | ${r.passed ? 'pass' : '**FAIL**'} | ${cell(r.headline)} | ${r.date.slice(0, 10)} |`),
  ].join('\n')
}

/** Replaces the text between the markers of `name`; false (file untouched) when they are absent. */
export function replaceSection(text: string, name: string, body: string): string | null {
  const open = `<!-- chaos:${name} -->`
  const close = `<!-- /chaos:${name} -->`
  const a = text.indexOf(open)
  const b = text.indexOf(close)
  if (a < 0 || b < a) return null
  return `${text.slice(0, a + open.length)}\n${body}\n${text.slice(b)}`
}

export async function updateReliabilityDoc(path: string, results: FaultResult[], log: (line: string) => void): Promise<void> {
  let text = await readFile(path, 'utf8')
  const full = results.filter((r) => !r.short)
  for (const r of full) {
    const next = replaceSection(text, r.fault, faultSection(r))
    if (next === null) log(`docs: no <!-- chaos:${r.fault} --> markers in ${path}; section not written`)
    else text = next
  }
  const withSummary = replaceSection(text, 'summary', summarySection(full))
  if (withSummary !== null) text = withSummary
  await writeFile(path, text)
  log(`docs: ${path} rewritten from ${full.length} result(s): ${full.map((r) => r.fault).join(', ')}`)
}
