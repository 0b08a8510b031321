/** The demo's single page: log in on one instance, watch the session on the others. */
export function page(instance: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sessionmesh demo shop (${instance})</title>
<style>body{font:16px system-ui;max-width:40rem;margin:2rem auto}button{margin:.2rem}</style></head>
<body>
<h1>sessionmesh demo shop</h1>
<p>Served by instance <b>${instance}</b>. Open the other instance's URL too: the session is shared.</p>
<form id="login"><input name="username" value="alice"> <input name="password" value="alice-pw" type="password">
<button>Log in</button></form>
<p>Me: <span id="me">?</span></p>
<button id="add">Add a widget to the cart</button> <button id="logout">Log out</button>
<button id="logout-all">Log out everywhere</button>
<pre id="cart"></pre>
<script>
const j = (r) => r.json().catch(() => ({}))
async function refresh() {
  const me = await fetch('/api/auth/me').then(j)
  document.getElementById('me').textContent = me.user ?? 'not logged in'
  document.getElementById('cart').textContent = JSON.stringify(await fetch('/api/cart').then(j), null, 1)
}
document.getElementById('login').onsubmit = async (e) => {
  e.preventDefault()
  const f = new FormData(e.target)
  await fetch('/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: f.get('username'), password: f.get('password') }) })
  refresh()
}
const post = (url, body) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) }).then(refresh)
document.getElementById('add').onclick = () => post('/api/cart/items', { sku: 'widget', qty: 1 })
document.getElementById('logout').onclick = () => post('/api/auth/logout')
document.getElementById('logout-all').onclick = () => post('/api/auth/logout-all')
refresh()
</script></body></html>`
}
