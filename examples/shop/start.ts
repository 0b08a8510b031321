/**
 * `npm start`: the demo shop. Starts `auth`, `cart` and `orders`, each as several OS
 * processes on internal ports, then the gateway on PORT (default 3000), all sharing sessions
 * through one SQLite file (or Redis with SESSIONMESH_STORE=redis://…, or several Redis
 * servers sharded by session with SESSIONMESH_STORE=redis://a,redis://b). Ctrl-C stops all.
 *
 *   npm start                    round-robin: each request may hit another instance
 *   npm start -- --affinity      route by session over a consistent-hash ring (or SHOP_AFFINITY=1)
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { accounts, serviceNames } from './catalog.js'
import type { Upstreams } from './router.js'
import { redisUrls, sqlitePath, storeLabel } from './sessions.js'
import { type RunningChild, Supervisor } from './supervisor.js'

const port = process.env.PORT ?? '3000'
const perService = Math.max(1, Number(process.env.INSTANCES ?? 2) || 2)
const affinity = process.argv.includes('--affinity') || process.env.SHOP_AFFINITY === '1'
const here = (file: string) => new URL(file, import.meta.url).pathname

if (redisUrls().length === 0) mkdirSync(dirname(sqlitePath()), { recursive: true })

const supervisor = new Supervisor()
let stopped: Promise<void> | null = null
const stop = () => {
  stopped ??= supervisor.stop()
  return stopped
}
process.on('SIGINT', () => void stop().then(() => process.exit(0)))
process.on('SIGTERM', () => void stop().then(() => process.exit(0)))

try {
  const instances: RunningChild[] = []
  const upstreams = {} as Upstreams
  // Services start in parallel: each one only needs the store.
  await Promise.all(
    serviceNames.map(async (service) => {
      const started = await Promise.all(
        Array.from({ length: perService }, (_, i) =>
          supervisor.start({ name: `${service}-${i + 1}`, script: here(`services/${service}.ts`), env: { INSTANCE: String(i + 1), PORT: '0' } }),
        ),
      )
      instances.push(...started)
      upstreams[service] = started.map((c) => ({ id: c.name, url: `http://127.0.0.1:${c.port}` }))
    }),
  )
  const gateway = await supervisor.start({
    name: 'gateway',
    script: here('gateway.ts'),
    env: { PORT: port, SHOP_UPSTREAMS: JSON.stringify(upstreams), SHOP_AFFINITY: affinity ? '1' : '0' },
  })
  if (!supervisor.stopping) {
    const url = `http://localhost:${gateway.port}/`
    const lines = [
      `sessionmesh demo shop: ${url}`,
      `  dashboard: ${url}dashboard`,
      `  routing:   ${affinity ? 'affinity (a consistent-hash ring keyed by session id)' : 'round-robin (try --affinity)'}`,
      `  sessions:  ${storeLabel()}`,
      `  processes: gateway pid ${gateway.pid} on :${gateway.port}`,
      ...instances.sort((a, b) => a.name.localeCompare(b.name)).map((c) => `             ${c.name} pid ${c.pid} on 127.0.0.1:${c.port}`),
      `  demo accounts: ${Object.entries(accounts).map(([u, p]) => `${u} / ${p}`).join(', ')}`,
      'Ctrl-C stops everything.',
    ]
    console.log(lines.join('\n'))
  }
} catch (e) {
  console.error(`the demo did not start: ${e instanceof Error ? e.message : String(e)}`)
  await stop()
  process.exit(1)
}
