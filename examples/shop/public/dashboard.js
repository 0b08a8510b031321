// The dashboard: polls /dashboard/stats for numbers and charts (SVG drawn here, no library),
// and listens to /dashboard/events, the merged event feed of every service instance.
/* global document, EventSource */

const $ = (id) => document.getElementById(id)
const SVG = 'http://www.w3.org/2000/svg'

function svgEl(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v))
  if (text !== undefined) node.textContent = text
  return node
}

/** Horizontal bars: one row per { label, value, down }, scaled to the largest value. */
function barChart(svg, rows) {
  const row = 24
  const labelW = Math.min(260, Math.max(80, ...rows.map((r) => r.label.length * 7 + 16)))
  const width = svg.clientWidth || 600
  const max = Math.max(1, ...rows.map((r) => r.value))
  svg.setAttribute('height', String(rows.length * row + 4))
  svg.replaceChildren(
    ...rows.flatMap((r, i) => {
      const y = i * row + 2
      const w = r.value > 0 ? Math.max(2, ((width - labelW - 40) * r.value) / max) : 0
      const bar = svgEl('rect', { class: r.down ? 'bar down' : 'bar', x: labelW, y: y + 3, width: w, height: row - 8, rx: 3 })
      bar.dataset.label = r.label
      bar.dataset.value = String(r.value)
      return [
        svgEl('text', { x: 0, y: y + row / 2 + 4 }, r.down ? `${r.label} (down)` : r.label),
        bar,
        svgEl('text', { x: labelW + w + 6, y: y + row / 2 + 4 }, String(r.value)),
      ]
    }),
  )
}

/** Per service, one bar split by each instance's share of the ring's keyspace. */
function renderRings(rings) {
  const svg = $('rings')
  const row = 40
  const labelW = 60
  const width = (svg.clientWidth || 400) - labelW
  const services = Object.entries(rings)
  svg.setAttribute('height', String(services.length * row))
  svg.replaceChildren(
    ...services.flatMap(([service, owners], i) => {
      const y = i * row
      let x = labelW
      const parts = [svgEl('text', { x: 0, y: y + 17 }, service)]
      owners.forEach((o, j) => {
        const w = o.keyspace * width
        const seg = svgEl('rect', { class: `seg${j % 4}`, x, y: y + 4, width: Math.max(0, w - 1), height: 18 })
        seg.appendChild(svgEl('title', {}, `${o.instance}: ${(o.keyspace * 100).toFixed(1)}% of the keyspace, ${o.sessions} live sessions`))
        parts.push(seg, svgEl('text', { class: 'on-bar', x: x + 4, y: y + 17 }, `${o.instance} ${(o.keyspace * 100).toFixed(0)}%`))
        parts.push(svgEl('text', { x: x + 4, y: y + 36, class: 'muted' }, `${o.sessions} session${o.sessions === 1 ? '' : 's'}`))
        x += w
      })
      return parts
    }),
  )
}

async function poll() {
  try {
    const s = await (await fetch('/dashboard/stats')).json()
    $('live').textContent = String(s.live)
    $('routing').textContent = s.routing
    $('store').textContent = `store: ${s.store}`
    $('near-cache').textContent = s.nearCacheHitRate === null ? 'n/a' : `${(s.nearCacheHitRate * 100).toFixed(1)}%`
    barChart($('instances-chart'), s.instances.map((i) => ({ label: i.up ? `${i.id} (pid ${i.pid})` : i.id, value: i.sessions, down: !i.up })))
    barChart($('store-chart'), s.storeNodes.map((n) => ({ label: n.node, value: n.sessions })))
    renderRings(s.rings)
  } catch {
    $('routing').textContent = 'gateway unreachable'
  }
}

const feed = new EventSource('/dashboard/events')
feed.onmessage = (m) => {
  const e = JSON.parse(m.data)
  const detail = [e.principal, e.reason, e.previousRef && `was ${e.previousRef}`, e.keys && e.keys.join(','), e.outcome && `${e.outcome} after ${e.waitedMs} ms`].filter(Boolean).join(' ')
  const li = document.createElement('li')
  li.className = `t-${e.type}`
  li.textContent = `${new Date(e.at).toLocaleTimeString()}  ${e.instance.padEnd(9)} ${e.type.padEnd(11)} ${e.ref ?? ''}  ${detail}`
  $('feed').prepend(li)
  while ($('feed').childElementCount > 200) $('feed').lastElementChild.remove()
}

await poll()
setInterval(() => void poll(), 1500)
