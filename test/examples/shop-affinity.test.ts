/**
 * `npm start -- --affinity` (SHOP_AFFINITY=1): the gateway routes each session to one
 * instance per service through a consistent-hash ring; a crashed instance is restarted by
 * the supervisor and the session survives (it lives in the store, not the process); and a
 * killed supervisor leaves no orphans behind.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { until } from '../../harness/redis.js'
import { alive, allGone, call, login, type Shop, startShop } from './harness.js'

describe('npm start with --affinity', () => {
  let shop: Shop
  const pids = new Set<number>()
  before(async () => {
    shop = await startShop({ SHOP_AFFINITY: '1' })
    for (const pid of shop.pids.values()) pids.add(pid)
  }, { timeout: 120_000 })
  after(async () => {
    await shop?.stop()
    await allGone(pids)
  })

  it('sends every request of one session to the same instance of each service', async () => {
    const stickiness = async (cookie: string) => {
      const owners: string[] = []
      for (const path of ['/api/auth/me', '/api/cart', '/api/orders']) {
        const seen = new Set<string>()
        for (let i = 0; i < 8; i++) {
          const r = await call(shop.url, path, { cookie })
          assert.equal(r.status, 200)
          seen.add(r.servedBy ?? '')
        }
        assert.equal(seen.size, 1, `${path}: ${[...seen].join(', ')}`)
        owners.push([...seen][0] as string)
      }
      return owners
    }
    await stickiness(await login(shop.url, 'alice'))
    await stickiness(await login(shop.url, 'bob'))
    const stats = await call(shop.url, '/dashboard/stats')
    assert.equal(stats.body.routing, 'affinity')
    const rings = stats.body.rings as Record<string, Array<{ sessions: number }>>
    assert.equal(rings.cart?.reduce((n, o) => n + o.sessions, 0), stats.body.live)
  })

  it('restarts a crashed instance on its port; the session and its cart survive the crash', async () => {
    const cookie = await login(shop.url, 'alice')
    const add = await call(shop.url, '/api/cart/items', { cookie, body: { sku: 'tee', qty: 3 } })
    assert.equal(add.status, 200)
    const owner = add.servedBy as string
    const oldPid = shop.pids.get(owner) as number
    process.kill(oldPid, 'SIGKILL')
    let newPid = 0
    await until(`${owner} to come back`, async () => {
      const stats = await call(shop.url, '/dashboard/stats')
      const me = (stats.body.instances as Array<{ id: string; up: boolean; pid: number | null }>).find((i) => i.id === owner)
      newPid = me?.up && me.pid !== oldPid ? me.pid ?? 0 : 0
      return newPid > 0
    })
    pids.add(newPid)
    const cart = await call(shop.url, '/api/cart', { cookie })
    assert.deepEqual([cart.status, cart.servedBy, cart.body.count], [200, owner, 3])
  })

  it('a supervisor killed with SIGKILL leaves no orphans: every child notices and exits', async () => {
    const children = [...pids].filter((p) => p !== shop.process.pid && alive(p))
    assert.ok(children.length >= 7)
    assert.equal(await shop.stop('SIGKILL'), null)
    await allGone(children)
  })
})
