/**
 * Stored text that would drive a terminal (ESC sequences, CR, LF, C1 controls, DEL, bidi
 * overrides) in a principal, an attribute name and a value, through the real CLI on a real
 * SQLite file: the text output carries none of those characters raw, shows them escaped, and
 * `--json` still gives the exact strings back.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { ListedSession } from '../../src/cli/commands/list.js'
import type { ShownAttribute } from '../../src/cli/commands/show.js'
import type { Stats } from '../../src/cli/commands/stats.js'
import { createSessions } from '../../src/index.js'
import { sqliteStore } from '../../src/stores/sqlite/index.js'
import { sessionmesh, sessionmeshJson } from './run.js'

const SECRET = 'cli-escaping-secret-0123456789-abcdefghijk'

/** Clear screen + home, a CR overwriting the line, an LF forging a new one, an 8-bit CSI (U+009B), DEL, a right-to-left override, a line separator. */
const PRINCIPAL = 'evil\x1b[2J\x1b[H\rroot\nsessionmesh: all clear\u009b31m\x7f\u202eabc\u2028end'
const PRINCIPAL_SHOWN = 'evil\\x1b[2J\\x1b[H\\rroot\\nsessionmesh: all clear\\x9b31m\\x7f\\u202eabc\\u2028end'
/** An OSC window-title sequence ended by BEL, a tab, a first-strong isolate. */
const NAME = 'cart\x1b]0;pwned\x07\t\u2068x'
const NAME_SHOWN = 'cart\\x1b]0;pwned\\x07\\t\\u2068x'
const VALUE = 'v\u202e\u0085\x1b[31m'

/**
 * Any character a terminal acts on. The CLI's own line breaks are the `\n` between lines, so
 * the check splits on exactly those and then allows no control character at all in any line,
 * `\r` included: a raw LF from the data would show up as an extra line (the line count is
 * asserted too), anything else as a match.
 */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/u

/** The lines the CLI wrote: stdout ends with one `\n`, and lines are joined by `\n`. */
function linesOf(stdout: string): string[] {
  assert.ok(stdout.endsWith('\n'), 'output ends with a line break')
  return stdout.slice(0, -1).split('\n')
}

function assertTerminalSafe(stdout: string, expectedLines: number): string[] {
  const lines = linesOf(stdout)
  const raw = lines.map((l, i) => [i, l] as const).filter(([, l]) => CONTROL.test(l))
  assert.deepEqual(raw.map(([i, l]) => `line ${i}: ${JSON.stringify(l)}`), [], 'no raw control character in any line')
  assert.equal(lines.length, expectedLines, `exactly the CLI's own lines:\n${lines.join('\n')}`)
  return lines
}

let dir: string
let db: string
let id = ''
const store = () => ['--store', db]

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sessionmesh-cli-escaping-'))
  db = join(dir, 'sessions.db')
  const sessions = createSessions({ store: sqliteStore({ path: db }), secret: SECRET, sweepInterval: false })
  const s = sessions.newBlankSession()
  s.set(NAME, VALUE)
  s.set('plain', 1)
  s.principal = PRINCIPAL
  await s.save()
  id = s.id
  await sessions.close()
})

after(() => rmSync(dir, { recursive: true, force: true }))

describe('terminal-safe text output', () => {
  it('list: principal and attribute names escaped, one row per session', async () => {
    const r = await sessionmesh(['list', ...store()])
    assert.equal(r.code, 0, r.stderr)
    const [header, row] = assertTerminalSafe(r.stdout, 2)
    assert.ok(row?.includes(PRINCIPAL_SHOWN), row)
    assert.ok(row?.includes(NAME_SHOWN), row)
    // Escaping happens before the columns are measured: ATTRIBUTES starts where its header does.
    const column = header?.indexOf('ATTRIBUTES') ?? -1
    assert.ok(column > 0 && row?.slice(column).startsWith(`${NAME_SHOWN},plain`), `${header}\n${row}`)
  })

  it('show: principal, attribute name and value escaped', async () => {
    const r = await sessionmesh(['show', ...store(), '--', id])
    assert.equal(r.code, 0, r.stderr)
    // 8 fixed lines and one per attribute.
    const lines = assertTerminalSafe(r.stdout, 10)
    assert.ok(lines.some((l) => l === `principal        ${PRINCIPAL_SHOWN}`), r.stdout)
    // JSON.stringify already writes ESC as \u001b; the bidi override and the C1 NEL it leaves raw are escaped.
    assert.ok(lines.some((l) => l === `  ${NAME_SHOWN} = "v\\u202e\\x85\\u001b[31m"`), r.stdout)
  })

  it('stats: the top principal escaped', async () => {
    const r = await sessionmesh(['stats', ...store()])
    assert.equal(r.code, 0, r.stderr)
    const json = await sessionmeshJson<Stats>(['stats', ...store()])
    // 3 summary lines, the size table (header + buckets), 'top principals', its header, its rows.
    const lines = assertTerminalSafe(r.stdout, 3 + 1 + json.size.buckets.length + 2 + json.principals.top.length)
    assert.ok(lines.some((l) => l.trim().startsWith(PRINCIPAL_SHOWN)), r.stdout)
  })

  it('--json keeps the exact strings, and writes no raw C1 or bidi character either', async () => {
    const listed = await sessionmeshJson<{ sessions: ListedSession[] }>(['list', ...store()])
    assert.equal(listed.sessions[0]?.principal, PRINCIPAL)
    assert.deepEqual(listed.sessions[0]?.attributes.sort(), [NAME, 'plain'].sort())
    const shown = await sessionmeshJson<{ principal: string; attributes: ShownAttribute[] }>(['show', ...store(), '--', id])
    assert.equal(shown.principal, PRINCIPAL)
    assert.deepEqual(shown.attributes.find((a) => a.name === NAME), { name: NAME, bytes: Buffer.byteLength(JSON.stringify(VALUE)), value: VALUE })
    const raw = await sessionmesh(['show', ...store(), '--json', '--', id])
    // JSON's own line breaks are formatting between tokens; inside strings nothing is raw.
    assert.doesNotMatch(raw.stdout.replaceAll('\n', ''), CONTROL)
  })

  it('an error message on stderr quotes its input escaped (text), exactly (--json)', async () => {
    // `--keys NAME` names an environment variable; the message quotes the name.
    const hostile = 'SM\x1b[2J\r\nKEYS\u202e'
    const r = await sessionmesh(['show', ...store(), '--keys', hostile, '--', id])
    assert.equal(r.code, 1, r.stderr)
    assertTerminalSafe(r.stderr, 1)
    assert.ok(r.stderr.includes('SM\\x1b[2J\\r\\nKEYS\\u202e'), r.stderr)
    const j = await sessionmesh(['show', ...store(), '--json', '--keys', hostile, '--', id])
    assert.doesNotMatch(j.stderr.replace(/\n$/, ''), CONTROL)
    const error = (JSON.parse(j.stderr) as { error: { message: string } }).error
    assert.ok(error.message.includes(hostile), error.message)
  })

  it('revoke --principal: the principal given on the command line is echoed escaped', async () => {
    const r = await sessionmesh(['revoke', ...store(), '--principal', `nobody\x1b[2J\r\u202e`])
    assert.equal(r.code, 0, r.stderr)
    assertTerminalSafe(r.stdout, 1)
    assert.equal(r.stdout, 'revoked 0 session(s) of nobody\\x1b[2J\\r\\u202e\n')
  })
})
