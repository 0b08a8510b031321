/**
 * The orders service. Checkout reads the cart, records the order and takes the ordered
 * items out of the cart under the session's lock, so two checkouts of one cart (a double
 * click, two tabs) make one order, not two; saves carry the lock's fencing token, so a
 * holder that stalled past its lease cannot write over the next one.
 */
import { randomUUID } from 'node:crypto'
import { type CartLine, cartKey, cartOf } from '../cart-items.js'
import { requireUser, runService } from '../service.js'

interface Order {
  id: string
  at: number
  items: CartLine[]
  count: number
  total: number
}

/** Orders kept per session: the session has a size limit, and this is a demo. */
const KEEP = 20

runService('orders', (app) => {
  app.get('/api/orders', (req, res) => {
    if (!requireUser(req, res)) return
    res.json({ orders: req.session.get<Order[]>('orders') ?? [] })
  })

  app.post('/api/orders', async (req, res) => {
    if (!requireUser(req, res)) return
    const order = await req.session.withLock(
      async ({ session }) => {
        // Read under the lock: the cart as it is now, and no other checkout runs meanwhile.
        const cart = cartOf(session)
        if (cart.count === 0) return null
        const placed: Order = { id: randomUUID().slice(0, 8), at: Date.now(), ...cart }
        session.set('orders', [...(session.get<Order[]>('orders') ?? []), placed].slice(-KEEP))
        // The order is saved (fenced) before the cart shrinks: a failure in between leaves
        // items in the cart, never an order that vanished.
        await session.save()
        // Take out what was ordered with atomic decrements rather than deleting the lines:
        // an add-to-cart racing with this checkout (it takes no lock) is kept, not lost.
        for (const line of cart.items) await session.increment(cartKey(line.sku), -line.qty)
        return placed
      },
      { ttl: '5s', wait: '2s' },
    )
    if (!order) return void res.status(400).json({ error: 'the cart is empty' })
    res.status(201).json({ order })
  })
})
