// CPU time a child process has used (user + system, all its threads), from /proc on Linux.
// Server CPU per request barely moves when other work shares the machine, unlike req/s,
// so it is reported beside throughput. Elsewhere it is simply left out (null).
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

let ticksPerSecond: number | undefined

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      ticksPerSecond = 100
    }
  }
  return ticksPerSecond
}

/** Milliseconds of CPU used so far by `pid`, or null where /proc is not available. */
export function processCpuMs(pid: number | undefined): number | null {
  if (pid === undefined) return null
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[11]) + Number(fields[12])
    return Number.isFinite(ticks) ? (ticks * 1000) / clockTicks() : null
  } catch {
    return null
  }
}

/** Busy and total CPU ticks of the whole machine so far (all cores), or null without /proc. */
function machineTicks(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? ''
    const v = line.trim().split(/\s+/).slice(1).map(Number)
    // user nice system idle iowait irq softirq steal (guest time is already in user). Interrupt
    // time is left out of `busy`: loopback traffic's softirq work is charged to no process, so
    // it would look like someone else's.
    const [user = 0, nice = 0, system = 0, , , , , steal = 0] = v
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0)
    return Number.isFinite(total) ? { busy: user + nice + system + steal, total } : null
  } catch {
    return null
  }
}

/** With --wait-idle: a turn during which other processes used more of the machine's CPU than this is measured again, */
export const OTHERS_LIMIT = 0.1
/** ... up to this many attempts in all (the last one is kept whatever happened). */
export const MAX_ATTEMPTS = 5

/** Busy CPU milliseconds of the whole machine so far (all cores), or null without /proc. */
export function machineBusyMs(): number | null {
  const t = machineTicks()
  return t ? (t.busy * 1000) / clockTicks() : null
}

/** Share (0–1) of the machine's CPU that was busy over the next `ms` milliseconds; null without /proc. */
export async function machineBusyShare(ms: number): Promise<number | null> {
  const a = machineTicks()
  await new Promise((r) => setTimeout(r, ms))
  const b = machineTicks()
  if (!a || !b || b.total <= a.total) return null
  return (b.busy - a.busy) / (b.total - a.total)
}

/**
 * Waits (at most `maxSeconds`) until the machine is idle, i.e. less than `threshold` of its
 * CPU busy over a 1 s sample. Called between turns, when the benchmark's own processes are
 * idle, so what it sees is other work (test runs, builds). Returns the seconds waited and
 * whether the machine was idle in the end.
 */
export async function waitForIdleMachine(maxSeconds: number, threshold = 0.15): Promise<{ waited: number; idle: boolean }> {
  const start = Date.now()
  for (;;) {
    const busy = await machineBusyShare(1000)
    if (busy === null || busy < threshold) return { waited: (Date.now() - start) / 1000, idle: true }
    if (Date.now() - start >= maxSeconds * 1000) return { waited: (Date.now() - start) / 1000, idle: false }
  }
}
