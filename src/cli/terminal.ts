/**
 * Making stored text safe to print on a terminal. Principals and attribute names are whatever
 * an app (or whoever can write to its store) put there; printed raw, an ESC sequence clears
 * the screen or recolours it, a CR or LF forges a line of output, and a bidi override (U+202E)
 * makes text read backwards. The CLI prints them escaped instead, in a visible form.
 *
 * A small function rather than a dependency: the set of characters is fixed and short, and
 * `util.inspect` (the nearest built-in) quotes and escapes differently per type.
 */

/**
 * C0 controls (U+0000–U+001F, tab included: it forges column alignment), DEL, C1 controls
 * (U+0080–U+009F: U+009B is an 8-bit CSI on some terminals), the bidi marks, embeddings,
 * overrides and isolates (U+061C, U+200E–U+200F, U+202A–U+202E, U+2066–U+2069), and the
 * Unicode line and paragraph separators (U+2028–U+2029).
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g

/** UNSAFE less the C0 controls: JSON.stringify escapes those itself, and its own line breaks are formatting. */
const RAW_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }

/** `\n`, `\r`, `\t`; `\x1b` for other characters up to U+00FF; `\u202e` above. */
function escapeOne(c: string): string {
  const named = NAMED[c]
  if (named !== undefined) return named
  const code = c.charCodeAt(0)
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
}

/**
 * `text` with every terminal control character written as a visible escape. Backslashes are
 * left as they are (a `DOMAIN\user` principal prints as itself), so the text output is for
 * reading; `--json` is the exact form. Safe to apply twice: an escape contains no control
 * character.
 *
 * @example
 * terminalSafe('user\x1b[2J\r\nroot') // 'user\\x1b[2J\\r\\nroot'
 */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, escapeOne)
}

/**
 * JSON text (from JSON.stringify) with the characters it leaves raw (DEL, C1 controls, bidi
 * and line separators) written as `\uXXXX` escapes. It parses to exactly the same value: those
 * characters can only occur inside JSON strings, where `\uXXXX` means the same character.
 */
export function terminalSafeJson(json: string): string {
  return json.replace(RAW_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
