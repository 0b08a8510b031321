/**
 * The cart service. Adding to the cart is one atomic `increment` in the store, so any number
 * of concurrent requests, on any instances, add up exactly: no read-modify-write to lose.
 */
import { products } from '../catalog.js'
import { cartKey, cartOf, parseAdd } from '../cart-items.js'
import { jsonObject, requireUser, runService } from '../service.js'

runService('cart', (app) => {
  // The catalogue is public: browsing needs no login.
  app.get('/api/cart/products', (_req, res) => {
    res.json({ products })
  })

  app.get('/api/cart', (req, res) => {
    if (!requireUser(req, res)) return
    res.json(cartOf(req.session))
  })

  app.post('/api/cart/items', async (req, res) => {
    if (!requireUser(req, res)) return
    const body = jsonObject(req, res)
    if (!body) return
    const add = parseAdd(body)
    if (typeof add === 'string') return void res.status(400).json({ error: add })
    const qty = await req.session.increment(cartKey(add.sku), add.qty)
    res.json(cartOf(req.session, new Map([[add.sku, qty]])))
  })
})
