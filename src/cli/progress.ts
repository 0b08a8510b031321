/**
 * Progress of long scans, on stderr: a cli-progress bar when stderr is a terminal, a plain
 * line every few seconds when it is a pipe or a log file (a bar's carriage returns would
 * make a mess there), and nothing at all with `--json` or `--no-progress`.
 */
import { Presets, SingleBar } from 'cli-progress'

export interface Progress {
  /** Adds `n` done items. */
  increment(n: number): void
  /** Raises the expected total (a scan may find more than the count said). */
  setTotal(total: number): void
  stop(): void
}

const SILENT: Progress = { increment() {}, setTotal() {}, stop() {} }

/** How often the plain-line variant reports. */
const LINE_INTERVAL_MS = 2000

/**
 * A progress reporter for `total` items.
 *
 * @example
 * const p = startProgress('scanning', await store.count(now), { enabled: !json })
 * for (...) p.increment(page.length)
 * p.stop()
 */
export function startProgress(label: string, total: number, options: { enabled: boolean }): Progress {
  if (!options.enabled) return SILENT
  if (process.stderr.isTTY) {
    const bar = new SingleBar(
      { stream: process.stderr, format: `${label} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted}`, hideCursor: true, clearOnComplete: true },
      Presets.shades_classic,
    )
    bar.start(Math.max(total, 0), 0)
    let value = 0
    let max = total
    return {
      increment(n) {
        value += n
        if (value > max) bar.setTotal((max = value))
        bar.increment(n)
      },
      setTotal(t) {
        bar.setTotal((max = Math.max(t, value)))
      },
      stop: () => bar.stop(),
    }
  }
  let value = 0
  let max = total
  let last = Date.now()
  return {
    increment(n) {
      value += n
      if (value > max) max = value
      if (Date.now() - last >= LINE_INTERVAL_MS) {
        last = Date.now()
        process.stderr.write(`${label}: ${value}/${max}\n`)
      }
    },
    setTotal(t) {
      max = Math.max(t, value)
    },
    stop() {},
  }
}
