/**
 * Output for people and for programs. Results go to stdout (JSON with `--json`, else
 * aligned text); progress and errors go to stderr, so `--json | jq` always sees clean JSON.
 * Stored text (principals, attribute names and values) reaches a terminal only escaped
 * (./terminal.ts).
 */
import { redactId } from '../core/errors.js'
import { terminalSafe, terminalSafeJson } from './terminal.js'

/**
 * Writes a result: pretty JSON when `json`, else the human lines. Every human line is escaped
 * here, whatever the command put in it, so the only line breaks are the ones between lines.
 */
export function emit(json: boolean, value: unknown, human: () => string[]): void {
  const text = json ? terminalSafeJson(JSON.stringify(value, null, 2)) : human().map(terminalSafe).join('\n')
  process.stdout.write(`${text}\n`)
}

/**
 * A session id as the CLI prints it: a short prefix unless `--show-ids`. Ids are bearer
 * credentials, and terminal output ends up in tickets and scroll-back.
 *
 * @example
 * shownId('Ab3dE9xK...', false) // 'Ab3dE9…'
 */
export function shownId(id: string, show: boolean): string {
  return show ? id : redactId(id)
}

/** Epoch ms as ISO 8601 (JSON and text alike: unambiguous and sortable). */
export const iso = (ms: number): string => new Date(ms).toISOString()

/** `1.5 KiB`, `230 B`: sizes in the text output. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}

/** `12m 5s` from now (or `ago`), for expiry columns. */
export function relative(ms: number, now: number): string {
  const d = Math.abs(ms - now)
  const s = Math.round(d / 1000)
  const text = s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
  return ms >= now ? `in ${text}` : `${text} ago`
}

/** Rows as space-aligned columns, the header first. Cells are escaped before they are measured, so columns stay aligned. */
export function table(header: string[], rawRows: string[][]): string[] {
  const rows = rawRows.map((r) => r.map(terminalSafe))
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  return [line(header), ...rows.map(line)]
}

/** A percentage with one decimal. */
export const percent = (share: number): string => `${(share * 100).toFixed(1)}%`
