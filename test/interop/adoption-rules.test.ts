/**
 * One corpus of old express-session + connect-redis records, adopted both ways, must give
 * the same result for every record. The two ways are `migrateFrom: connectRedisSessions()`
 * over real HTTP (a new session on first access) and `sessionmesh migrate` (a bulk copy under
 * the old id, the real CLI as a child process). "The same result" means the same attributes
 * and the same principal, or a refusal for the same reason. The records are written to a
 * private redis-server in connect-redis' format: the normal ones by connect-redis' own
 * `RedisStore.set`, the hostile ones (keys JSON.stringify would not write, bad names, deep
 * nesting) as raw text next to an express-session `cookie`. The corpus runs twice: values
 * stored as plain JSON, and sealed with encryption at rest (`--keys`), where sizes differ.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { RedisStore } from 'connect-redis'
import signature from 'cookie-signature'
import express from 'express'
import { createClient } from 'redis'
import { session } from '../../src/adapters/express/index.js'
import type { MigrateReport } from '../../src/cli/commands/migrate.js'
import { type Adoption, adoptLegacy, type LegacyRefusal } from '../../src/core/adopt.js'
import { createSessions, memoryStore, type Session, type Sessions, type SessionsOptions } from '../../src/index.js'
import { type ConnectRedisSessions, connectRedisSessions, readConnectRedisRecord } from '../../src/interop/connect-redis.js'
import { redisStore } from '../../src/stores/redis/index.js'
import { type AppHandle, listen } from '../../harness/http.js'
import { type RedisProcess, startRedis } from '../../harness/redis.js'
import { sessionmeshJson } from '../cli/run.js'

const OLD_SECRET = 'old-express-session-secret'
const NEW_SECRET = 'adoption-rules-test-secret-0123456789abcdef'
const KEY = 'adoption-rules-encryption-key-0123456789abcdef'
const MAX_SIZE = 4096
const IDLE = '30m'
const ABSOLUTE = '12h'

type Codec = 'plain' | 'sealed'
/** What a record should become: its attributes and principal, or why it is refused. */
type Expected = { attributes: Record<string, unknown>; principal: string | null } | LegacyRefusal
/** Both ways end in one of these; compared between the ways and with the corpus. */
type Outcome = { adopted: { attributes: Record<string, unknown>; principal: string | null } } | { refused: string }

interface OldRecord {
  name: string
  /** Written by connect-redis' RedisStore.set, with a cookie added. */
  data?: Record<string, unknown>
  /** Written as is: the fields after `"cookie":{...},` (or, with `whole`, the entire value). */
  fields?: string
  whole?: string
  expect: Expected | Record<Codec, Expected>
}

const long = (c: string, n: number) => c.repeat(n)
const adopted = (attributes: Record<string, unknown>, principal: string | null = null): Expected => ({ attributes, principal })

/** The corpus: each case once, the rule it shows in its name. */
const CORPUS: OldRecord[] = [
  {
    name: 'a normal logged-in session (passport-style principal)',
    data: { passport: { user: 'alice' }, user: { name: 'alice' }, cart: [{ sku: 'tea', qty: 2 }] },
    expect: adopted({ passport: { user: 'alice' }, user: { name: 'alice' }, cart: [{ sku: 'tea', qty: 2 }] }, 'alice'),
  },
  { name: 'an anonymous session (no passport)', data: { views: 3, flash: [] }, expect: adopted({ views: 3, flash: [] }) },
  { name: 'falsy values are data', data: { a: null, b: false, c: '', d: 0, e: {} }, expect: adopted({ a: null, b: false, c: '', d: 0, e: {} }) },
  { name: 'a numeric passport user is no principal', data: { passport: { user: 42 } }, expect: adopted({ passport: { user: 42 } }) },
  { name: 'an object passport user is no principal', data: { passport: { user: { id: 7 } } }, expect: adopted({ passport: { user: { id: 7 } } }) },
  { name: 'an empty principal is none', data: { passport: { user: '' }, theme: 'dark' }, expect: adopted({ passport: { user: '' }, theme: 'dark' }) },
  {
    name: 'a principal of 256 characters',
    data: { passport: { user: long('p', 256) } },
    expect: adopted({ passport: { user: long('p', 256) } }, long('p', 256)),
  },
  { name: 'a principal of 257 characters', data: { passport: { user: long('p', 257) }, user: { name: 'x' } }, expect: 'invalid' },
  { name: 'an empty attribute name', data: { '': 1, passport: { user: 'erin' } }, expect: 'invalid' },
  { name: 'an attribute name of 300 characters', data: { [long('n', 300)]: 1, passport: { user: 'fred' } }, expect: 'invalid' },
  { name: 'an attribute name of 256 characters', data: { [long('n', 256)]: 1 }, expect: adopted({ [long('n', 256)]: 1 }) },
  // Lengths are UTF-16 code units, as `session.set` counts them: 129 emoji are 258.
  { name: 'an attribute name of 129 emoji', data: { [long('🔑', 129)]: 1 }, expect: 'invalid' },
  {
    name: '__proto__, constructor and prototype at the top level',
    fields:
      '"__proto__":{"polluted":"top"},"constructor":{"prototype":{"polluted":"ctor"}},"prototype":{"polluted":"p"},' +
      '"passport":{"user":"mallory"},"user":{"name":"mallory"}',
    expect: adopted({ passport: { user: 'mallory' }, user: { name: 'mallory' } }, 'mallory'),
  },
  {
    name: '__proto__, constructor and prototype nested',
    fields:
      '"user":{"name":"nina","__proto__":{"isAdmin":true},"constructor":{"x":1}},' +
      '"cart":[{"__proto__":{"polluted":"nested"},"sku":"x","prototype":1}],"passport":{"user":"nina","constructor":"y"}',
    expect: adopted({ user: { name: 'nina' }, cart: [{ sku: 'x' }], passport: { user: 'nina' } }, 'nina'),
  },
  { name: 'only the cookie', data: {}, expect: 'empty' },
  { name: 'only the cookie and unsafe keys', fields: '"__proto__":{"a":1},"constructor":{}', expect: 'empty' },
  { name: 'a cookie that is not an object', whole: '{"cookie":"odd","a":1}', expect: adopted({ a: 1 }) },
  { name: 'over maxSize', data: { passport: { user: 'gus' }, blob: long('x', 5000) }, expect: 'tooLarge' },
  {
    // 3,500 bytes of JSON fit in 4,096 as they are, not once sealed (base64 of the ciphertext).
    name: 'under maxSize plain, over it sealed',
    data: { passport: { user: 'hana' }, blob: long('y', 3500) },
    expect: { plain: adopted({ passport: { user: 'hana' }, blob: long('y', 3500) }, 'hana'), sealed: 'tooLarge' },
  },
  {
    // Stored as the codec encodes them, as session.set would: Infinity is null, -0 is 0.
    name: 'numbers JSON cannot hold exactly',
    fields: '"n":1e999,"m":-0,"big":12345678901234567890,"passport":{"user":"olga"}',
    expect: adopted({ n: null, m: 0, big: Number('12345678901234567890'), passport: { user: 'olga' } }, 'olga'),
  },
  // JSON.parse reads it; nothing can copy or encode it back (the stack runs out).
  { name: 'nested 100,000 deep', fields: `"deep":${long('[', 100_000)}${long(']', 100_000)}`, expect: 'unparsable' },
  { name: 'cookie.expires has passed', whole: `{"cookie":${cookieJson(-60_000)},"passport":{"user":"ivy"}}`, expect: 'expired' },
  { name: 'cookie.expires is not a date', whole: '{"cookie":{"expires":"soon"},"passport":{"user":"jon"}}', expect: 'expired' },
  { name: 'not JSON', whole: '{"passport":{"user":"kim"},', expect: 'unparsable' },
  { name: 'an array', whole: '["passport","kim"]', expect: 'unparsable' },
  { name: 'null', whole: 'null', expect: 'unparsable' },
]

/** express-session's cookie as it stores it, expiring `inMs` from now. */
function cookieJson(inMs: number): string {
  return JSON.stringify({ originalMaxAge: 86_400_000, expires: new Date(Date.now() + inMs).toISOString(), httpOnly: true, path: '/' })
}

const expectedFor = (r: OldRecord, codec: Codec): Expected =>
  typeof r.expect === 'string' || 'attributes' in r.expect ? r.expect : r.expect[codec]

/** express-session's default id: uid-safe, 24 bytes, 32 base64url characters (sessionmesh's format too). */
const newSid = () => randomBytes(24).toString('base64url')

/** A session's data as both ways are compared: decoded attributes and principal. */
function outcomeOf(s: Session | null): Outcome | null {
  return s ? { adopted: { attributes: { ...s.toJSON() }, principal: s.principal } } : null
}

/** What the corpus says each way must show. `migrateFrom` tells refusals apart only by the error it reports. */
function expectedOutcome(e: Expected, way: 'migrateFrom' | 'cli'): Outcome {
  if (typeof e !== 'string') return { adopted: e }
  if (way === 'cli') return { refused: 'not copied' }
  return { refused: e === 'invalid' ? 'INVALID_ATTRIBUTE' : e === 'tooLarge' ? 'SESSION_TOO_LARGE' : 'no session, nothing reported' }
}

let redis: RedisProcess
let client: ReturnType<typeof createClient>
const toClose: Array<() => Promise<void>> = []

before(async () => {
  redis = await startRedis()
  client = createClient({ url: redis.url })
  client.on('error', () => {})
  await client.connect()
})

after(async () => {
  for (const close of toClose.reverse()) await close()
  if (client?.isOpen) await client.close()
  await redis?.stop()
})

/** Writes the corpus under `prefix` in connect-redis' format; the old ids in corpus order. */
async function writeCorpus(prefix: string): Promise<string[]> {
  const store = new RedisStore({ client, prefix })
  const sids: string[] = []
  for (const r of CORPUS) {
    const sid = newSid()
    sids.push(sid)
    if (r.data) {
      const cookie = JSON.parse(cookieJson(86_400_000)) as object
      await store.set(sid, { ...r.data, cookie } as never)
    } else {
      const text = r.whole ?? `{"cookie":${cookieJson(86_400_000)},${r.fields}}`
      await client.set(prefix + sid, text, { expiration: { type: 'EX', value: 3600 } })
    }
    assert.equal(await client.exists(prefix + sid), 1, `${r.name}: written`)
  }
  return sids
}

/** A sessionmesh app adopting from `source`: it answers with the request's session id. */
async function adoptingApp(sessions: Sessions): Promise<AppHandle> {
  const app = express()
  app.use(session(sessions))
  app.get('/', (req, res) => {
    res.json({ id: req.sessionID })
  })
  const handle = await listen(createServer(app))
  toClose.push(() => handle.close())
  return handle
}

for (const codec of ['plain', 'sealed'] as const) {
  describe(`one corpus, migrateFrom and sessionmesh migrate agree (${codec} values)`, () => {
    const oldPrefix = `old-${codec}:`
    const encryption = codec === 'sealed' ? { encryption: { keys: [KEY] } } : {}
    let sids: string[] = []
    let report: MigrateReport
    const cli: Array<Outcome> = []
    const viaHttp: Array<Outcome> = []

    before(async () => {
      sids = await writeCorpus(oldPrefix)

      // 1. The bulk copy, first: it leaves the old records (no --delete-source) for adoption.
      const cliPrefix = `cli-${codec}:`
      report = await sessionmeshJson<MigrateReport>(
        [
          'migrate', '--store', redis.url, '--prefix', cliPrefix, '--from-prefix', oldPrefix,
          '--principal-path', 'passport.user', '--max-size', String(MAX_SIZE), '--idle-timeout', IDLE, '--absolute-timeout', ABSOLUTE,
          ...(codec === 'sealed' ? ['--keys', 'ADOPTION_KEYS'] : []),
        ],
        { ADOPTION_KEYS: KEY },
      )
      const copies = createSessions({ store: redisStore({ url: redis.url, prefix: cliPrefix }), secret: NEW_SECRET, sweepInterval: false, ...encryption })
      toClose.push(() => copies.close())
      for (const sid of sids) cli.push(outcomeOf(await copies.get(sid)) ?? { refused: 'not copied' })

      // 2. Adoption on first access, one browser per record.
      const source: ConnectRedisSessions = connectRedisSessions<{ passport?: { user?: string } }>({
        redis: { url: redis.url },
        secret: OLD_SECRET,
        prefix: oldPrefix,
        principal: (d) => d.passport?.user,
      })
      toClose.push(() => source.close())
      const sessions = createSessions({
        store: redisStore({ url: redis.url, prefix: `adopted-${codec}:` }),
        secret: NEW_SECRET,
        sweepInterval: false,
        migrateFrom: source,
        maxSize: MAX_SIZE,
        idleTimeout: IDLE,
        absoluteTimeout: ABSOLUTE,
        ...encryption,
      })
      toClose.push(() => sessions.close())
      const errors: Error[] = []
      sessions.events.on('error', (e) => errors.push(e))
      const app = await adoptingApp(sessions)
      for (const [i, sid] of sids.entries()) {
        errors.length = 0
        const cookie = `connect.sid=${encodeURIComponent(`s:${signature.sign(sid, OLD_SECRET)}`)}`
        const r = await fetch(app.url, { headers: { cookie } })
        assert.equal(r.status, 200, CORPUS[i]!.name)
        const { id } = (await r.json()) as { id: string }
        const newCookie = r.headers.getSetCookie().some((c) => c.startsWith('sid='))
        const stored = await sessions.get(id)
        assert.equal(newCookie, stored !== null, `${CORPUS[i]!.name}: a new cookie exactly when a session was stored`)
        const codes = errors.map((e) => (e as Error & { code?: string }).code ?? e.message)
        assert.ok(codes.length <= 1, `${CORPUS[i]!.name}: at most one error reported: ${codes.join(', ')}`)
        viaHttp.push(outcomeOf(stored) ?? { refused: codes[0] ?? 'no session, nothing reported' })
        if (stored) assert.equal(await client.exists(oldPrefix + sid), 0, `${CORPUS[i]!.name}: the adopted old record is deleted`)
      }
    })

    for (const [i, r] of CORPUS.entries()) {
      it(r.name, () => {
        const expected = expectedFor(r, codec)
        assert.deepEqual(viaHttp[i], expectedOutcome(expected, 'migrateFrom'), 'migrateFrom')
        assert.deepEqual(cli[i], expectedOutcome(expected, 'cli'), 'sessionmesh migrate')
        // The point: the same session from both (or neither).
        assert.deepEqual('adopted' in viaHttp[i] ? viaHttp[i] : null, 'adopted' in cli[i] ? cli[i] : null)
      })
    }

    it('sessionmesh migrate counts each refusal under the reason adoption gives', () => {
      const counts = { expired: 0, unparsable: 0, empty: 0, invalid: 0, tooLarge: 0, incompatibleId: 0, gone: 0 }
      let copied = 0
      for (const r of CORPUS) {
        const e = expectedFor(r, codec)
        if (typeof e === 'string') counts[e]++
        else copied++
      }
      assert.equal(report.scanned, CORPUS.length)
      assert.equal(report.migrated, copied)
      assert.deepEqual(report.skipped, counts)
    })
  })
}

describe('adoptLegacy, the rules both ways share', () => {
  const now = Date.now()
  const store = memoryStore()
  const app = (options: Partial<SessionsOptions> = {}) => {
    const sessions = createSessions({ store, secret: NEW_SECRET, maxSize: MAX_SIZE, idleTimeout: IDLE, sweepInterval: false, now: () => now, ...options })
    return () => sessions.newBlankSession()
  }
  const fresh = app()
  const sealed = app({ encryption: { keys: [KEY] } })
  const refusal = (a: Adoption) => ('refused' in a ? [a.refused, a.error?.code ?? null] : 'adopted')

  it('refuses values JSON cannot encode (only a custom serializer can produce them)', () => {
    const circular: { self?: unknown } = {}
    circular.self = circular
    const cases: Record<string, unknown> = { bigint: 1n, function: () => 1, symbol: Symbol('s'), circular }
    for (const [name, value] of Object.entries(cases)) {
      assert.deepEqual(refusal(adoptLegacy({ attributes: { ok: 1, [name]: value } }, fresh())), ['invalid', 'INVALID_ATTRIBUTE'], name)
    }
  })

  it('skips undefined values, encodes what JSON can (a Date as its ISO text) and refuses empty sessions without an error', async () => {
    const s = fresh()
    const at = new Date(0)
    assert.equal(refusal(adoptLegacy({ attributes: { gone: undefined, at } }, s)), 'adopted')
    await s.save()
    assert.deepEqual([...((await store.load(s.id, now))?.attributes ?? [])], [['at', JSON.stringify(at.toISOString())]])
    assert.deepEqual(adoptLegacy({ attributes: { gone: undefined }, principal: '' }, fresh()), { refused: 'empty', error: null })
    // A principal alone is something to adopt (a source that maps users, not data).
    assert.equal(refusal(adoptLegacy({ attributes: {}, principal: 'ann' }, fresh())), 'adopted')
    // A custom source's non-string principal is refused by the setter, not taken as none.
    assert.deepEqual(refusal(adoptLegacy({ attributes: { a: 1 }, principal: 42 as never }, fresh())), ['invalid', 'INVALID_ATTRIBUTE'])
  })

  it("sizes sealed values as stored, and refuses over maxSize with the session's own error", () => {
    const data = { attributes: { blob: long('z', 3500) } }
    assert.equal(refusal(adoptLegacy(data, fresh())), 'adopted')
    assert.deepEqual(refusal(adoptLegacy(data, sealed())), ['tooLarge', 'SESSION_TOO_LARGE'])
  })

  it('a record read by readConnectRedisRecord and adopted is saved as a new session', async () => {
    const old = readConnectRedisRecord(`{"cookie":${cookieJson(60_000)},"passport":{"user":"lea"},"n":1}`, {
      principal: (d) => (d.passport as { user?: string } | undefined)?.user,
      now,
    })
    assert.ok(!('refused' in old))
    const a = adoptLegacy(old, fresh())
    assert.ok('session' in a)
    await a.session.save()
    const stored = await store.load(a.session.id, now)
    assert.ok(stored)
    assert.equal(stored.principal, 'lea')
    assert.deepEqual([...stored.attributes], [['passport', '{"user":"lea"}'], ['n', '1']])
    assert.equal(stored.createdAt, now)
    assert.equal(stored.expiresAt, now + 1_800_000)
  })
})
