import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, describe, it } from 'node:test'
import { startRedis, type RedisProcess } from '../support/redis.js'

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })

for (const variant of ['the embedded SQLite default', 'Redis (SESSIONMESH_STORE=redis://…)'] as const) describe(`npm start: the demo shop on ${variant}`, () => {
  let base = 0
  const child = { proc: null as ReturnType<typeof spawn> | null }
  let redis: RedisProcess | undefined
  before(async () => {
    base = await freePort()
    const dir = mkdtempSync(join(tmpdir(), 'shop-'))
    if (variant.startsWith('Redis')) redis = await startRedis()
    const store = redis ? { SESSIONMESH_STORE: redis.url } : { SESSIONMESH_SQLITE: join(dir, 's.db') }
    const proc = spawn(process.execPath, ['--import', 'tsx', 'examples/shop/start.ts'], {
      env: { ...process.env, PORT: String(base), ...store },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    child.proc = proc
    await new Promise<void>((resolve, reject) => {
      proc.once('exit', (code) => reject(new Error(`demo exited early with ${code}`)))
      createInterface({ input: proc.stdout }).on('line', (line) => {
        if (line.startsWith('demo accounts')) resolve()
      })
    })
  })
  after(async () => {
    const proc = child.proc
    if (proc && proc.exitCode === null) {
      const exited = new Promise((r) => proc.once('exit', r))
      proc.kill('SIGINT')
      await exited
    }
    await redis?.stop()
  })

  const call = async (instance: number, path: string, init: { method?: string; cookie?: string; body?: unknown } = {}) => {
    const res = await fetch(`http://127.0.0.1:${base + instance}${path}`, {
      method: init.method ?? 'GET',
      headers: { 'content-type': 'application/json', ...(init.cookie ? { cookie: init.cookie } : {}) },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    })
    return { status: res.status, servedBy: res.headers.get('x-served-by'), cookie: res.headers.get('set-cookie')?.split(';')[0], body: (await res.json()) as Record<string, unknown> }
  }

  it('a login on one instance is seen by the other; carts and logout-everywhere are shared', async () => {
    assert.equal((await call(0, '/api/auth/login', { method: 'POST', body: { username: 'alice', password: 'nope' } })).status, 401)
    const login = await call(0, '/api/auth/login', { method: 'POST', body: { username: 'alice', password: 'alice-pw' } })
    assert.equal(login.status, 200)
    const cookie = login.cookie as string
    const me = await call(1, '/api/auth/me', { cookie })
    assert.deepEqual([me.status, me.body.user], [200, 'alice'])
    assert.notEqual(me.servedBy, login.servedBy)
    await Promise.all(Array.from({ length: 20 }, (_, i) => call(i % 2, '/api/cart/items', { method: 'POST', cookie, body: { sku: `s${i}`, qty: 1 } })))
    const cart = await call(1, '/api/cart', { cookie })
    assert.equal(cart.status, 200)
    assert.ok((cart.body.count as number) >= 1)
    const at = cookie.length - 10
    const tampered = await call(1, '/api/auth/me', { cookie: `${cookie.slice(0, at)}${cookie[at] === 'x' ? 'y' : 'x'}${cookie.slice(at + 1)}` })
    assert.equal(tampered.status, 401)
    const second = (await call(1, '/api/auth/login', { method: 'POST', body: { username: 'alice', password: 'alice-pw' } })).cookie as string
    assert.equal((await call(0, '/api/auth/logout-all', { method: 'POST', cookie: second })).body.revoked, 2)
    assert.equal((await call(1, '/api/auth/me', { cookie })).status, 401)
    assert.equal((await call(0, '/api/cart/items', { method: 'POST', cookie, body: 'garbage' })).status, 400)
  })
})
