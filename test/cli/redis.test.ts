/**
 * The CLI against a private redis-server: the commands on sessionmesh's Redis layout and on
 * Spring Session's, a Redis that is down (exit 2), and `migrate` of sessions that real
 * express-session + connect-redis wrote: dry run, kept ids, principal, skips, idempotent
 * re-run, --delete-source, and the old browser cookie reaching the migrated session by its kept id.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { RedisStore } from 'connect-redis'
import signature from 'cookie-signature'
import express from 'express'
import expressSession from 'express-session'
import { createClient } from 'redis'
import { session } from '../../src/adapters/express/index.js'
import type { ListedSession } from '../../src/cli/commands/list.js'
import type { MigrateReport } from '../../src/cli/commands/migrate.js'
import type { Stats } from '../../src/cli/commands/stats.js'
import { createSessions, type SessionTokens } from '../../src/index.js'
import { springSessionStore, springSessionTokens } from '../../src/interop/index.js'
import { redisStore } from '../../src/stores/redis/index.js'
import { type AppHandle, listen } from '../../harness/http.js'
import { freePort, type RedisProcess, startRedis } from '../../harness/redis.js'
import { sessionmesh, sessionmeshJson } from './run.js'

const SECRET = 'cli-redis-test-secret-0123456789-abcdefghij'
const OLD_SECRET = 'old-express-session-secret'

let redis: RedisProcess
let client: ReturnType<typeof createClient>
let oldApp: AppHandle

/** The old app: express-session + connect-redis; /login stores a user; /login-custom uses a non-sessionmesh id. */
async function startOldApp(): Promise<AppHandle> {
  // One RedisStore per middleware: express-session installs its id generator on the store.
  const app = express()
  const options = { secret: OLD_SECRET, resave: false, saveUninitialized: false }
  const plain = expressSession({ ...options, store: new RedisStore({ client }) })
  const custom = expressSession({ ...options, store: new RedisStore({ client }), genid: () => `custom-${Math.random()}` })
  // Keeps records an hour whatever the cookie says, so an expired cookie's record is still there to skip.
  const longTtl = expressSession({ ...options, store: new RedisStore({ client, ttl: () => 3600 }) })
  const login = (req: express.Request, res: express.Response) => {
    const data = req.session as unknown as { user: { name: string }; cart: string[] }
    data.user = { name: typeof req.query.user === 'string' ? req.query.user : "" }
    data.cart = ['tea']
    res.json({ ok: true })
  }
  app.post('/login', plain, login)
  app.post('/login-custom', custom, login)
  app.post('/login-expired', longTtl, (req, res) => {
    ;(req.session as unknown as { cookie: { expires: Date } }).cookie.expires = new Date(Date.now() - 60_000)
    login(req, res)
  })
  return listen(createServer(app))
}

/** Logs in on the old app: the browser's `connect.sid=...` pair and the old id. */
async function oldLogin(route: string, user: string): Promise<{ cookie: string; sid: string }> {
  const r = await fetch(`${oldApp.url}${route}?user=${user}`, { method: 'POST' })
  assert.equal(r.status, 200)
  const cookie = r.headers.getSetCookie().find((c) => c.startsWith('connect.sid='))!.split(';')[0]!
  const value = decodeURIComponent(cookie.slice('connect.sid='.length))
  return { cookie, sid: value.slice(2, value.lastIndexOf('.')) }
}

before(async () => {
  redis = await startRedis()
  client = createClient({ url: redis.url })
  client.on('error', () => {})
  await client.connect()
  oldApp = await startOldApp()
})

after(async () => {
  await oldApp?.close()
  await client?.close()
  await redis?.stop()
})

describe('commands on Redis', () => {
  const prefix = 'cli1:'
  let ids: string[] = []

  before(async () => {
    const sessions = createSessions({ store: redisStore({ url: redis.url, prefix }), secret: SECRET, sweepInterval: false })
    for (const [i, p] of ['ann', 'ann', 'ben'].entries()) {
      const s = sessions.newBlankSession()
      s.set('n', i)
      s.principal = p
      await s.save()
      ids.push(s.id)
    }
    await sessions.close()
  })

  const args = () => ['--store', redis.url, '--prefix', prefix]

  it('list, show, stats and revoke see the sessions under --prefix', async () => {
    const listed = await sessionmeshJson<{ sessions: ListedSession[] }>(['list', ...args(), '--show-ids'])
    assert.deepEqual(listed.sessions.map((s) => s.id).sort(), [...ids].sort())
    const other = await sessionmeshJson<{ count: number }>(['list', '--store', redis.url, '--prefix', 'nothing-here:'])
    assert.equal(other.count, 0)
    const shown = await sessionmeshJson<{ principal: string }>(['show', ...args(), '--', ids[2]!])
    assert.equal(shown.principal, 'ben')
    const stats = await sessionmeshJson<Stats>(['stats', ...args()])
    assert.equal(stats.live, 3)
    assert.deepEqual(stats.principals.top[0], { principal: 'ann', sessions: 2 })
    assert.deepEqual(await sessionmeshJson(['revoke', '--principal', 'ann', ...args()]), { principal: 'ann', revoked: 2 })
    assert.equal((await sessionmeshJson<Stats>(['stats', ...args()])).live, 1)
    ids = [ids[2]!]
  })

  it('Redis down: exit 2 with a clear one-line message, no stack trace, credentials not echoed', async () => {
    const port = await freePort()
    const r = await sessionmesh(['stats', '--store', `redis://admin:hunter2@127.0.0.1:${port}`, '--timeout', '500ms'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, new RegExp(`^sessionmesh: store unavailable: cannot reach Redis at redis://127.0.0.1:${port}`))
    assert.equal(r.stderr.trim().split('\n').length, 1)
    assert.ok(!r.stderr.includes('hunter2') && !r.stderr.includes('    at '))
    const j = await sessionmesh(['list', '--store', `redis://127.0.0.1:${port}`, '--timeout', '500ms', '--json'])
    assert.equal(j.code, 2)
    assert.equal((JSON.parse(j.stderr) as { error: { code: string } }).error.code, 'STORE_UNAVAILABLE')
  })
})

describe('migrate from express-session + connect-redis', () => {
  const prefix = 'migrated:'
  let alice: { cookie: string; sid: string }
  let bob: { cookie: string; sid: string }

  before(async () => {
    alice = await oldLogin('/login', 'alice')
    bob = await oldLogin('/login', 'bob')
    await oldLogin('/login-custom', 'carl')
    await oldLogin('/login-expired', 'dora')
    await client.set('sess:broken', '{not json')
  })

  const args = () => ['migrate', '--store', redis.url, '--prefix', prefix, '--principal-path', 'user.name']

  it('--dry-run reports what would happen and writes nothing', async () => {
    const r = await sessionmeshJson<MigrateReport>([...args(), '--dry-run'])
    assert.equal(r.dryRun, true)
    assert.equal(r.scanned, 5)
    assert.equal(r.migrated, 2)
    assert.deepEqual(r.skipped, { expired: 1, unparsable: 1, empty: 0, invalid: 0, tooLarge: 0, incompatibleId: 1, gone: 0 })
    assert.equal((await sessionmeshJson<{ count: number }>(['list', '--store', redis.url, '--prefix', prefix])).count, 0)
  })

  it('copies live sessions under their old ids with the principal; explains incompatible ids', async () => {
    const human = await sessionmesh([...args()])
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, /migrated\s+2/)
    assert.match(human.stdout, /not in sessionmesh's format/)
    const listed = await sessionmeshJson<{ sessions: ListedSession[] }>(['list', '--store', redis.url, '--prefix', prefix, '--show-ids'])
    assert.deepEqual(listed.sessions.map((s) => s.id).sort(), [alice.sid, bob.sid].sort())
    const shown = await sessionmeshJson<{ principal: string; attributes: Array<{ name: string; value: unknown }> }>([
      'show', '--store', redis.url, '--prefix', prefix, '--', alice.sid,
    ])
    assert.equal(shown.principal, 'alice')
    assert.deepEqual(shown.attributes.map((a) => [a.name, a.value]).sort(), [['cart', ['tea']], ['user', { name: 'alice' }]])
    assert.ok(await client.exists(`sess:${alice.sid}`), 'the old record is kept without --delete-source')
  })

  it('a re-run changes nothing: every copy is already there', async () => {
    const r = await sessionmeshJson<MigrateReport>(args())
    assert.equal(r.migrated, 0)
    assert.equal(r.alreadyMigrated, 2)
    assert.equal((await sessionmeshJson<Stats>(['stats', '--store', redis.url, '--prefix', prefix])).live, 2)
  })

  it('the old connect.sid cookie names the migrated session (ids kept), given a token format that reads it', async () => {
    // express-session's cookie format as SessionTokens: `s:<id>.<hmac>` (cookie-signature).
    const expressTokens: SessionTokens = {
      newId: () => createSessions({ secret: SECRET, sweepInterval: false }).tokens.newId(),
      isId: (id) => /^[A-Za-z0-9_-]{32}$/.test(id),
      issue: (id) => `s:${signature.sign(id, OLD_SECRET)}`,
      read: (token) => {
        const id = token.startsWith('s:') ? signature.unsign(token.slice(2), OLD_SECRET) : false
        return id === false ? null : { id, rotated: false }
      },
    }
    const sessions = createSessions({ store: redisStore({ url: redis.url, prefix }), tokens: expressTokens, cookie: { name: 'connect.sid' }, sweepInterval: false })
    const app = express()
    app.use(session(sessions))
    app.get('/me', (req, res) => {
      res.json({ user: (req.session.user as unknown) ?? null, principal: req.session.principal })
    })
    const handle = await listen(createServer(app))
    try {
      const r = await fetch(`${handle.url}/me`, { headers: { cookie: bob.cookie } })
      assert.deepEqual(await r.json(), { user: { name: 'bob' }, principal: 'bob' })
    } finally {
      await handle.close()
      await sessions.close()
    }
  })

  it('--delete-source removes each old record once its copy is stored', async () => {
    const r = await sessionmeshJson<MigrateReport>([...args(), '--delete-source'])
    assert.equal(r.alreadyMigrated, 2)
    assert.equal(r.deletedSource, 2)
    assert.equal(await client.exists(`sess:${alice.sid}`), 0)
    assert.equal(await client.exists(`sess:${bob.sid}`), 0)
    assert.equal(await client.exists('sess:broken'), 1, 'what was not copied stays')
  })

  it('an unreachable old Redis is exit 2', async () => {
    const port = await freePort()
    const r = await sessionmesh([...args(), '--from', `redis://127.0.0.1:${port}`, '--timeout', '500ms'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /cannot reach the old Redis/)
  })
})

describe('commands on the Spring Session layout (--layout spring-session)', () => {
  const namespace = 'cli:spring:session'
  const ids: string[] = []

  before(async () => {
    const sessions = createSessions({ store: springSessionStore({ url: redis.url, namespace }), tokens: springSessionTokens(), cookie: { name: 'SESSION' }, sweepInterval: false })
    for (const p of ['cleo', 'cleo']) {
      const s = sessions.newBlankSession()
      s.set('n', 1)
      s.principal = p
      await s.save()
      ids.push(s.id)
    }
    await sessions.close()
  })

  it("list and revoke reach Spring's keys under --prefix (the namespace), through springSessionStore", async () => {
    const args = ['--store', redis.url, '--layout', 'spring-session', '--prefix', namespace]
    const listed = await sessionmeshJson<{ sessions: ListedSession[] }>(['list', ...args, '--show-ids'])
    assert.deepEqual(listed.sessions.map((s) => s.id).sort(), [...ids].sort())
    assert.deepEqual(await sessionmeshJson(['revoke', '--principal', 'cleo', ...args]), { principal: 'cleo', revoked: 2 })
    assert.equal(await client.hGet(`${namespace}:sessions:${ids[0]}`, 'maxInactiveInterval'), '0', 'ended as Spring ends sessions')
  })
})
