// The shop page: plain DOM, no framework, no build. Values from the server are set as
// text, never as HTML (a user agent string is user input).
/* global document, FormData */

const $ = (id) => document.getElementById(id)
const money = (cents) => `$${(cents / 100).toFixed(2)}`
const when = (ms) => new Date(ms).toLocaleTimeString()

/** A DOM element with text or child nodes. */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag)
  Object.assign(node, props)
  for (const c of children) node.append(c)
  return node
}

const served = []
/** Calls the API through the gateway; records which instance answered. */
async function api(path, body) {
  const init = body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }
  const res = await fetch(path, init)
  served.unshift(`${init.method ?? 'GET'} ${path} → ${res.status} ${res.headers.get('x-served-by') ?? ''}`)
  served.length = Math.min(served.length, 6)
  $('served').textContent = served.join('\n')
  $('served').style.whiteSpace = 'pre'
  return { status: res.status, data: await res.json().catch(() => ({})) }
}

let products = []
let user = null

async function refresh() {
  const me = await api('/api/auth/me')
  user = me.status === 200 ? me.data.user : null
  $('whoami').textContent = user ? `logged in as ${user}` : 'not logged in'
  $('login-box').hidden = Boolean(user)
  for (const id of ['logout', 'logout-all']) $(id).disabled = !user
  renderProducts()
  if (!user) {
    for (const id of ['cart', 'orders', 'devices']) $(id).replaceChildren(el('li', { className: 'muted', textContent: 'log in first' }))
    renderCart({ items: [], count: 0, total: 0 })
    return
  }
  const [cart, orders, devices] = await Promise.all([api('/api/cart'), api('/api/orders'), api('/api/auth/sessions')])
  if (cart.status === 200) renderCart(cart.data)
  if (orders.status === 200) renderOrders(orders.data.orders)
  if (devices.status === 200) renderDevices(devices.data.sessions)
}

function renderProducts() {
  $('products').replaceChildren(
    ...products.map((p) => {
      const qty = el('select', { title: 'quantity' }, ...[1, 2, 3, 5, 10].map((n) => el('option', { value: String(n), textContent: String(n) })))
      const add = el('button', { textContent: 'Add', disabled: !user, className: 'add' })
      add.dataset.sku = p.sku
      add.onclick = async () => {
        const r = await api('/api/cart/items', { sku: p.sku, qty: Number(qty.value) })
        if (r.status === 200) renderCart(r.data)
      }
      return el('li', {}, el('span', { className: 'grow', textContent: p.name }), el('span', { className: 'muted', textContent: money(p.price) }), qty, add)
    }),
  )
}

function renderCart(cart) {
  $('cart-count').textContent = String(cart.count)
  $('cart').replaceChildren(
    ...(cart.items.length ? cart.items.map((i) => el('li', {}, el('span', { className: 'grow', textContent: i.name }), el('span', { textContent: `× ${i.qty}` }))) : [el('li', { className: 'muted', textContent: 'empty' })]),
  )
  $('cart-total').textContent = cart.count ? `total ${money(cart.total)}` : ''
  $('checkout').disabled = cart.count === 0
}

function renderOrders(orders) {
  $('orders').replaceChildren(
    ...(orders.length
      ? [...orders].reverse().map((o) => el('li', { className: 'order' }, el('span', { className: 'grow', textContent: `#${o.id} · ${o.count} items` }), el('span', { className: 'muted', textContent: `${money(o.total)} · ${when(o.at)}` })))
      : [el('li', { className: 'muted', textContent: 'no orders yet' })]),
  )
}

function renderDevices(list) {
  $('devices').replaceChildren(
    ...list.map((d) =>
      el(
        'li',
        { className: 'device' },
        el('div', { className: 'grow' }, el('div', { textContent: d.userAgent.slice(0, 80) }), el('div', { className: 'muted', textContent: `signed in ${when(d.createdAt)} · last seen ${when(d.lastSeenAt)}` })),
        d.current ? el('span', { className: 'tag', textContent: 'this device' }) : '',
      ),
    ),
  )
}

$('login').onsubmit = async (e) => {
  e.preventDefault()
  const f = new FormData(e.target)
  const r = await api('/api/auth/login', { username: f.get('username'), password: f.get('password') })
  $('login-error').textContent = r.status === 200 ? '' : r.data.error ?? 'login failed'
  await refresh()
}
$('checkout').onclick = async () => {
  await api('/api/orders', {})
  await refresh()
}
$('logout').onclick = async () => {
  await api('/api/auth/logout', {})
  await refresh()
}
$('logout-all').onclick = async () => {
  await api('/api/auth/logout-all', {})
  await refresh()
}

products = (await api('/api/cart/products')).data.products ?? []
await refresh()
