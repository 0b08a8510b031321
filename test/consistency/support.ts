/** Spawning the consistency app as OS processes and driving it over HTTP with one session cookie. */
import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const SERVER = fileURLToPath(new URL('./fixtures/server.ts', import.meta.url))

export interface AppProcess {
  url: string
  process: ChildProcess
  stop(): Promise<void>
}

/** Starts fixtures/server.ts on `store` and resolves once it prints its port. */
export function spawnApp(store: string, env: Record<string, string> = {}): Promise<AppProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER], {
    env: { ...process.env, STORE: store, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
  }
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`app exited before listening (${code ?? signal})`)))
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^listening (\d+)$/.exec(line)
      if (m) resolve({ url: `http://127.0.0.1:${m[1]}`, process: child, stop })
    })
  })
}

export interface Answer {
  status: number
  body: Record<string, unknown>
}

export async function call(url: string, method: 'GET' | 'POST', path: string, cookie?: string): Promise<Answer & { cookie?: string }> {
  const res = await fetch(url + path, { method, headers: cookie ? { cookie } : {} })
  const text = await res.text()
  const set = res.headers.get('set-cookie')?.split(';')[0]
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, ...(set ? { cookie: set } : {}) }
}

/** Logs in on `url` and returns the session cookie. */
export async function login(url: string): Promise<string> {
  const r = await call(url, 'POST', '/login')
  if (r.status !== 200 || !r.cookie) throw new Error(`login answered ${r.status}`)
  return r.cookie
}
