import { ConfigurationError } from './errors.js'

/** A duration: milliseconds as a number, or a string such as `'90s'`, `'30m'`, `'12h'`, `'7d'`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** Milliseconds in `value`; ConfigurationError (naming `option`) for anything else. */
export function toMs(value: Duration, option: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value > 0) return value
  } else {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value)
    if (m) return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]
  }
  throw new ConfigurationError(`${option} must be a positive duration like 30m or 12h (got ${String(value)})`)
}
