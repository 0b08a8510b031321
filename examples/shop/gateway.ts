/**
 * The gateway: the one public port. Serves the shop and dashboard pages, and proxies
 * /api/<service>/* to that service's instances (round-robin, or by session with affinity).
 * It holds no session state of its own: it only verifies cookies to route by session.
 */
import { Agent, createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { readFile } from 'node:fs/promises'
import { createProxyServer } from 'http-proxy-3'
import { EventFeed } from './feed.js'
import { Router, type Upstreams } from './router.js'
import { shopSessions } from './sessions.js'
import { dashboardStats } from './stats.js'

const upstreams = JSON.parse(process.env.SHOP_UPSTREAMS ?? '{}') as Upstreams
const affinity = process.env.SHOP_AFFINITY === '1'
const shop = shopSessions({ sweep: false })
const { sessions } = shop
const router = new Router(upstreams, sessions, affinity)
const feed = new EventFeed()
for (const list of Object.values(upstreams)) for (const u of list) feed.follow(u)
const stats = dashboardStats(shop, upstreams, router)

// Keep-alive to the instances: 200 concurrent requests should not mean 200 new connections each time.
const agent = new Agent({ keepAlive: true, maxSockets: 64 })
const proxy = createProxyServer({ xfwd: true, agent, proxyTimeout: 30_000 })

const pages: Record<string, [file: string, type: string]> = {
  '/': ['shop.html', 'text/html; charset=utf-8'],
  '/dashboard': ['dashboard.html', 'text/html; charset=utf-8'],
  '/static/shop.js': ['shop.js', 'text/javascript; charset=utf-8'],
  '/static/dashboard.js': ['dashboard.js', 'text/javascript; charset=utf-8'],
  '/static/style.css': ['style.css', 'text/css; charset=utf-8'],
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-served-by': 'gateway' })
  res.end(JSON.stringify(body))
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://gateway').pathname
  const api = /^\/api\/([a-z]+)(?:\/|$)/.exec(path)
  if (api) {
    const target = router.pick(api[1] as string, req)
    if (!target) return json(res, 404, { error: 'no such service' })
    proxy.web(req, res, { target: target.url }, () => {
      // The instance is down or restarting; the client may simply retry (another instance will answer).
      if (!res.headersSent) json(res, 502, { error: `${target.id} is unavailable, try again` })
    })
    return
  }
  if (req.method === 'GET' && path === '/dashboard/events') return feed.subscribe(req, res)
  if (req.method === 'GET' && path === '/dashboard/stats') return json(res, 200, await stats())
  const scrape = /^\/metrics\/([a-z]+-\d+)$/.exec(path)
  if (req.method === 'GET' && scrape) return metricsOf(scrape[1] as string, res)
  const page = pages[path]
  if (page && (req.method === 'GET' || req.method === 'HEAD')) {
    const body = await readFile(new URL(`./public/${page[0]}`, import.meta.url))
    res.writeHead(200, { 'content-type': page[1], 'cache-control': 'no-cache', 'x-served-by': 'gateway' })
    res.end(req.method === 'HEAD' ? undefined : body)
    return
  }
  json(res, 404, { error: 'not found' })
}

/** One instance's Prometheus metrics (each process keeps its own; scrape every /metrics/<instance>). */
async function metricsOf(id: string, res: ServerResponse): Promise<void> {
  const upstream = Object.values(upstreams)
    .flat()
    .find((u) => u.id === id)
  if (!upstream) return json(res, 404, { error: 'no such instance' })
  try {
    const r = await fetch(`${upstream.url}/internal/metrics`, { signal: AbortSignal.timeout(2000) })
    res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'text/plain', 'x-served-by': 'gateway' })
    res.end(await r.text())
  } catch {
    json(res, 502, { error: `${id} is unavailable, try again` })
  }
}

const server = createServer((req, res) => {
  handle(req, res).catch((e: unknown) => {
    console.error('gateway:', e)
    if (!res.headersSent) json(res, 500, { error: 'internal error' })
    else res.end()
  })
})
server.on('error', (e) => {
  console.error(`gateway: ${e.message}`)
  process.exit(1)
})
server.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1', () => {
  const address = server.address()
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`)
})

let stopping = false
const stop = () => {
  if (stopping) return
  stopping = true
  feed.close()
  server.close(() => {
    agent.destroy()
    sessions.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  })
  server.closeAllConnections()
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
process.on('disconnect', stop)
