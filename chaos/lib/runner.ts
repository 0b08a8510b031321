/** Runs one fault with progress lines and wraps what it returns into a FaultResult. */
import { machine } from './machine.js'
import type { Fault, FaultResult } from './types.js'

export interface RunOptions {
  short: boolean
  /** Where progress lines go. Default: stdout. */
  print?: (line: string) => void
}

export async function runFault(fault: Fault, options: RunOptions): Promise<FaultResult> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`))
  const started = Date.now()
  const m = machine()
  const log = (message: string) => {
    const t = ((Date.now() - started) / 1000).toFixed(1).padStart(6)
    for (const line of message.split('\n')) print(`[${fault.name} ${t}s] ${line}`)
  }
  log(`${options.short ? 'short variant' : 'full variant'}: ${fault.summary}`)
  const out = await fault.run({ short: options.short, log })
  const passed = out.checks.every((c) => c.kind !== 'verdict' || c.ok)
  for (const c of out.checks) log(`${c.ok ? 'ok  ' : c.kind === 'verdict' ? 'FAIL' : 'miss'} ${c.kind === 'target' ? '(target) ' : ''}${c.name}${c.detail ? `: ${c.detail}` : ''}`)
  return {
    fault: fault.name,
    short: options.short,
    date: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    passed,
    machine: m,
    ...out,
  }
}
