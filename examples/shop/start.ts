/**
 * `npm start`: two shop instances as separate OS processes sharing one SQLite session file.
 * (The gateway, more services and the dashboard come with the demo-shop issue.)
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { createInterface } from 'node:readline'

const base = Number(process.env.PORT ?? 3000)
const count = Number(process.env.INSTANCES ?? 2)
mkdirSync('.data', { recursive: true })

const children: ChildProcess[] = []
const ready = Array.from({ length: count }, (_, i) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/shop/server.ts'], {
    env: { ...process.env, PORT: String(base + i), INSTANCE: String(i + 1) },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  return new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`instance ${i + 1} exited with ${code}`)))
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('listening')) resolve()
    })
  })
})

let stopping = false
const stop = () => {
  if (stopping) return
  stopping = true
  for (const c of children) c.kill('SIGTERM')
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)

try {
  await Promise.all(ready)
} catch (e) {
  console.error(String(e))
  stop()
  process.exitCode = 1
}
if (!stopping) {
  const store = process.env.SESSIONMESH_STORE?.startsWith('redis') ? `Redis at ${redact(process.env.SESSIONMESH_STORE)}` : '.data/sessions.db (SQLite)'
  console.log(`sessionmesh demo: ${count} instances sharing sessions through ${store}`)
  for (let i = 0; i < count; i++) console.log(`  instance ${i + 1}: http://127.0.0.1:${base + i}/`)
  console.log('demo accounts: alice / alice-pw, bob / bob-pw')
  console.log('log in on one instance, reload the other: same session. Ctrl-C stops everything.')
}
await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))))

/** A Redis URL without its password, for printing. */
function redact(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return 'redis'
  }
}
