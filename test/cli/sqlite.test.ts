/**
 * The CLI against a real SQLite file populated through createSessions + sqliteStore: every
 * command, its --json shape, id redaction, encrypted values, and the exit codes.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { ListedSession } from '../../src/cli/commands/list.js'
import type { RingReport } from '../../src/cli/commands/ring.js'
import type { ShownAttribute } from '../../src/cli/commands/show.js'
import type { Stats } from '../../src/cli/commands/stats.js'
import { createSessions } from '../../src/index.js'
import { sqliteStore } from '../../src/stores/sqlite/index.js'
import { sessionmesh, sessionmeshJson } from './run.js'

const SECRET = 'cli-test-secret-0123456789-abcdefghijklmnop'
const KEY = 'cli-test-encryption-key-0123456789-abcdef'

let dir: string
let db: string
const ids: Record<string, string> = {}
let encryptedId = ''

/** Saves one session with these attributes (and principal) through the real manager. */
async function populate(path: string, table: string | undefined, make: Array<{ name: string; principal?: string; attrs: Record<string, unknown> }>, encryption = false) {
  const sessions = createSessions({
    store: sqliteStore({ path, ...(table ? { table } : {}) }),
    secret: SECRET,
    sweepInterval: false,
    ...(encryption ? { encryption: { keys: [KEY] } } : {}),
  })
  const made: string[] = []
  for (const m of make) {
    const s = sessions.newBlankSession()
    for (const [k, v] of Object.entries(m.attrs)) s.set(k, v)
    if (m.principal) s.principal = m.principal
    await s.save()
    ids[m.name] = s.id
    made.push(s.id)
  }
  await sessions.close()
  return made
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sessionmesh-cli-'))
  db = join(dir, 'sessions.db')
  await populate(db, undefined, [
    { name: 'alice1', principal: 'alice', attrs: { user: { name: 'alice' }, cart: ['tea'] } },
    { name: 'alice2', principal: 'alice', attrs: { user: { name: 'alice' } } },
    { name: 'bob', principal: 'bob', attrs: { user: { name: 'bob' }, big: 'x'.repeat(2000) } },
    { name: 'anon', attrs: { theme: 'dark' } },
  ])
  ;[encryptedId] = (await populate(db, undefined, [{ name: 'carol', principal: 'carol', attrs: { card: '4111-secret' } }], true)) as [string]
  await populate(db, 'otherapp', [{ name: 'other', principal: 'zed', attrs: { a: 1 } }])
})

after(() => rmSync(dir, { recursive: true, force: true }))

const store = () => ['--store', db]

describe('list', () => {
  it('prints redacted ids, principals and attribute names, never values or whole ids', async () => {
    const r = await sessionmesh(['list', ...store()])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^ID\s+PRINCIPAL\s+CREATED\s+LAST ACCESS\s+EXPIRES\s+ATTRIBUTES/)
    for (const id of Object.values(ids)) assert.ok(!r.stdout.includes(id), 'no whole id in the output')
    assert.ok(r.stdout.includes(`${ids.alice1!.slice(0, 6)}…`))
    assert.ok(r.stdout.includes('cart,user') || r.stdout.includes('user,cart'))
    assert.ok(!r.stdout.includes('tea') && !r.stdout.includes('4111'), 'no attribute values')
  })

  it('--json: sessions with id, principal, ISO times and attribute names; count; truncated', async () => {
    const out = await sessionmeshJson<{ sessions: ListedSession[]; count: number; truncated: boolean }>(['list', ...store()])
    assert.equal(out.count, 5)
    assert.equal(out.truncated, false)
    const first = out.sessions[0]!
    assert.deepEqual(Object.keys(first).sort(), ['attributes', 'createdAt', 'expiresAt', 'id', 'lastAccessedAt', 'principal'])
    assert.match(first.createdAt, /^\d{4}-\d\d-\d\dT/)
    assert.match(first.id, /^.{6}…$/)
    assert.deepEqual(out.sessions.map((s) => s.principal).sort(), ['alice', 'alice', 'bob', 'carol', null].sort())
  })

  it('--principal, --limit and --show-ids', async () => {
    const mine = await sessionmeshJson<{ sessions: ListedSession[] }>(['list', ...store(), '--principal', 'alice', '--show-ids'])
    assert.deepEqual(mine.sessions.map((s) => s.id).sort(), [ids.alice1, ids.alice2].sort())
    const two = await sessionmeshJson<{ sessions: ListedSession[]; truncated: boolean }>(['list', ...store(), '--limit', '2'])
    assert.equal(two.sessions.length, 2)
    assert.equal(two.truncated, true)
  })

  it('--prefix selects another table prefix in the same file; SESSIONMESH_STORE works like --store', async () => {
    const other = await sessionmeshJson<{ sessions: ListedSession[] }>(['list', '--prefix', 'otherapp'], { SESSIONMESH_STORE: db })
    assert.deepEqual(other.sessions.map((s) => s.principal), ['zed'])
  })
})

describe('show', () => {
  it('decodes attributes as JSON; --json shape', async () => {
    type Shown = { id: string; principal: string; attributes: ShownAttribute[]; encrypted: number; version: number; expiresAt: string }
    const out = await sessionmeshJson<Shown>(['show', ...store(), '--', ids.alice1!])
    assert.equal(out.principal, 'alice')
    assert.equal(out.id, `${ids.alice1!.slice(0, 6)}…`)
    assert.equal(out.encrypted, 0)
    assert.deepEqual(out.attributes.find((a) => a.name === 'cart'), { name: 'cart', bytes: 7, value: ['tea'] })
    const human = await sessionmesh(['show', ...store(), '--', ids.alice1!])
    assert.match(human.stdout, /user = \{"name":"alice"\}/)
  })

  it('accepts a signed token (id.mac) as pasted from a cookie', async () => {
    const r = await sessionmesh(['show', ...store(), '--', `${ids.bob}.${'A'.repeat(43)}`])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /principal\s+bob/)
  })

  it('says encrypted values cannot be shown without keys, and decrypts with --keys <ENV>', async () => {
    const sealed = await sessionmesh(['show', ...store(), '--', encryptedId])
    assert.equal(sealed.code, 0)
    assert.ok(!sealed.stdout.includes('4111'))
    assert.match(sealed.stdout, /card = \(encrypted\)/)
    assert.match(sealed.stdout, /cannot be shown without the keys/)
    const json = await sessionmeshJson<{ attributes: ShownAttribute[]; encrypted: number }>(['show', ...store(), '--', encryptedId])
    assert.equal(json.encrypted, 1)
    assert.equal((json.attributes[0] as { encrypted: boolean }).encrypted, true)
    const opened = await sessionmeshJson<{ attributes: ShownAttribute[] }>(['show', ...store(), '--keys', 'SM_KEYS', '--', encryptedId], { SM_KEYS: KEY })
    assert.deepEqual(opened.attributes, [{ name: 'card', bytes: (json.attributes[0] as { bytes: number }).bytes, value: '4111-secret' }])
    const missing = await sessionmesh(['show', ...store(), '--keys', 'SM_NOT_SET', '--', encryptedId])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /SM_NOT_SET/)
  })

  it('an unknown id exits 3 with a message that does not echo the whole id', async () => {
    const unknown = 'Zz'.repeat(16)
    const r = await sessionmesh(['show', ...store(), '--', unknown])
    assert.equal(r.code, 3)
    assert.match(r.stderr, /no live session Zz/)
    assert.ok(!r.stderr.includes(unknown))
    const j = await sessionmesh(['show', ...store(), '--json', '--', unknown])
    assert.equal(j.code, 3)
    assert.deepEqual((JSON.parse(j.stderr) as { error: { code: string; exitCode: number } }).error.code, 'CLI_NOT_FOUND')
  })
})

describe('stats', () => {
  it('--json: live count, top principals, size buckets, expiring counts', async () => {
    const s = await sessionmeshJson<Stats>(['stats', ...store(), '--top', '2'])
    assert.equal(s.live, 5)
    assert.equal(s.scanned, 5)
    assert.equal(s.anonymous, 1)
    assert.equal(s.principals.distinct, 3)
    assert.deepEqual(s.principals.top, [
      { principal: 'alice', sessions: 2 },
      { principal: 'bob', sessions: 1 },
    ])
    assert.equal(s.size.buckets.reduce((a, b) => a + b.sessions, 0), 5)
    assert.equal(s.size.buckets.find((b) => b.le === 4096)?.sessions, 1, 'bob has ~2 KB')
    assert.ok(s.size.max > 2000)
    // Default idle timeout 30m: nothing within 5 minutes, all within the hour.
    assert.deepEqual(s.expiring, { within5m: 0, within1h: 5 })
    const human = await sessionmesh(['stats', ...store()])
    assert.match(human.stdout, /live sessions\s+5/)
    assert.match(human.stdout, /top principals/)
  })
})

describe('ring', () => {
  it('--sample: shares per node, weights respected, max/mean near 1', async () => {
    const r = await sessionmeshJson<RingReport>(['ring', '--nodes', 'a,b,c:2', '--sample', '20000'])
    assert.equal(r.source, 'sample')
    assert.equal(r.keys, 20000)
    assert.deepEqual(r.nodes.map((n) => [n.id, n.weight, n.expectedShare]), [['a', 1, 0.25], ['b', 1, 0.25], ['c', 2, 0.5]])
    assert.equal(r.nodes.reduce((a, n) => a + n.keys, 0), 20000)
    for (const n of r.nodes) assert.ok(Math.abs(n.share - n.expectedShare) < 0.05, `${n.id}: ${n.share}`)
    assert.ok(r.maxOverMean >= 1 && r.maxOverMean < 1.2)
  })

  it('with a store and no --sample: the live sessions', async () => {
    const r = await sessionmeshJson<RingReport>(['ring', '--nodes', 'x,y', '--vnodes', '50', ...store()])
    assert.equal(r.source, 'store')
    assert.equal(r.keys, 5)
    assert.equal(r.vnodes, 50)
  })

  it('a bad node list is a usage error (exit 1)', async () => {
    const r = await sessionmesh(['ring', '--nodes', 'a,a'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /listed twice/)
  })
})

describe('revoke', () => {
  it('one id: counts 1, then the session is gone (show exits 3); again exits 3', async () => {
    assert.deepEqual(await sessionmeshJson(['revoke', ...store(), '--', ids.anon!]), { revoked: 1 })
    assert.equal((await sessionmesh(['show', ...store(), '--', ids.anon!])).code, 3)
    assert.equal((await sessionmesh(['revoke', ...store(), '--', ids.anon!])).code, 3)
  })

  it('--principal: every session of that user, with the count; none left is 0, not an error', async () => {
    assert.deepEqual(await sessionmeshJson(['revoke', '--principal', 'alice', ...store()]), { principal: 'alice', revoked: 2 })
    assert.deepEqual(await sessionmeshJson(['revoke', '--principal', 'alice', ...store()]), { principal: 'alice', revoked: 0 })
    const left = await sessionmeshJson<{ count: number }>(['list', ...store()])
    assert.equal(left.count, 2)
  })

  it('needs exactly one of id and --principal (exit 1)', async () => {
    assert.equal((await sessionmesh(['revoke', ...store()])).code, 1)
    assert.equal((await sessionmesh(['revoke', ids.bob!, '--principal', 'bob', ...store()])).code, 1)
  })
})

describe('errors and exit codes', () => {
  it('a missing SQLite file is "store unavailable" (exit 2), one line, no stack trace, nothing created', async () => {
    const missing = join(dir, 'nope.db')
    const r = await sessionmesh(['list', '--store', missing])
    assert.equal(r.code, 2)
    assert.equal(r.stderr.trim(), `sessionmesh: store unavailable: no SQLite file at ${missing}`)
    assert.equal(r.stdout, '')
  })

  it('no store, a bad number, an unknown command or option: exit 1', async () => {
    const none = await sessionmesh(['list'])
    assert.equal(none.code, 1)
    assert.match(none.stderr, /no store/)
    assert.equal((await sessionmesh(['list', ...store(), '--limit', 'many'])).code, 1)
    assert.equal((await sessionmesh(['frobnicate'])).code, 1)
    assert.equal((await sessionmesh(['list', '--frob'])).code, 1)
    assert.equal((await sessionmesh(['list', '--store', 'redis://127.0.0.1:6379', '--layout', 'weird'])).code, 1)
  })

  it('--help exits 0', async () => {
    const r = await sessionmesh(['--help'])
    assert.equal(r.code, 0)
    assert.match(r.stdout, /migrate/)
  })
})
