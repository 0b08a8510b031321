/**
 * Runs the demo shop exactly as `npm start` does (`node --import tsx examples/shop/start.ts`)
 * on a free port, waits for the URL it prints, and stops it with SIGINT. Shared by the
 * end-to-end and browser tests.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { freePort, until } from '../../harness/redis.js'

export interface Shop {
  /** The URL the demo printed, e.g. `http://localhost:41234/`. */
  url: string
  /** Every process the demo said it started (gateway and instances), by name. */
  pids: Map<string, number>
  process: ChildProcess
  /** Everything the demo wrote to stdout so far. */
  output: string[]
  /**
   * Sends `signal` to the demo's own process (with `group`, to its whole process group, as
   * Ctrl-C in a terminal does) and waits for it to exit; returns its exit code.
   */
  stop(signal?: NodeJS.Signals, options?: { group?: boolean }): Promise<number | null>
}

export async function startShop(env: Record<string, string> = {}): Promise<Shop> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'sessionmesh-shop-'))
  const proc = spawn(process.execPath, ['--import', 'tsx', 'examples/shop/start.ts'], {
    env: { ...process.env, PORT: String(port), SESSIONMESH_SQLITE: join(dir, 'sessions.db'), ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
    // Its own process group, so a test can signal the whole tree the way a terminal does.
    detached: true,
  })
  const output: string[] = []
  const pids = new Map<string, number>()
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))
  const url = await new Promise<string>((resolve, reject) => {
    void exited.then((code) => reject(new Error(`the demo exited with ${code} before printing its URL:\n${output.join('\n')}`)))
    createInterface({ input: proc.stdout }).on('line', (line) => {
      output.push(line)
      const pid = /(\S+) pid (\d+)/.exec(line)
      if (pid) pids.set(pid[1] as string, Number(pid[2]))
      // The URL line comes first, the accounts line last: by then every pid is printed too.
      if (line.includes('demo accounts:')) {
        const printed = output.map((l) => /demo shop: (http:\/\/\S+)/.exec(l)?.[1]).find(Boolean)
        if (printed) resolve(printed)
        else reject(new Error(`no URL in the demo's output:\n${output.join('\n')}`))
      }
    })
  })
  return {
    url,
    pids,
    process: proc,
    output,
    async stop(signal = 'SIGINT', options = {}) {
      if (proc.exitCode === null && proc.signalCode === null) {
        if (options.group && proc.pid) process.kill(-proc.pid, signal)
        else proc.kill(signal)
      }
      const code = await exited
      rmSync(dir, { recursive: true, force: true })
      return code
    },
  }
}

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Polls until none of `pids` exists any more. */
export async function allGone(pids: Iterable<number>, timeoutMs = 20_000): Promise<void> {
  const list = [...pids]
  await until(`processes ${list.join(', ')} to exit`, async () => list.every((p) => !alive(p)), timeoutMs)
}

export interface Reply {
  status: number
  servedBy: string | null
  /** `name=value` of a Set-Cookie, if any. */
  cookie: string | undefined
  body: Record<string, unknown>
}

/** One JSON call to the shop; `body` as a string is sent raw (for malformed-body tests). */
export async function call(base: string, path: string, init: { method?: string; cookie?: string; body?: unknown; userAgent?: string } = {}): Promise<Reply> {
  const res = await fetch(new URL(path, base), {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: {
      'content-type': 'application/json',
      ...(init.cookie ? { cookie: init.cookie } : {}),
      ...(init.userAgent ? { 'user-agent': init.userAgent } : {}),
    },
    body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
  })
  const text = await res.text()
  let body: Record<string, unknown>
  try {
    body = JSON.parse(text) as Record<string, unknown>
  } catch {
    body = { raw: text }
  }
  return { status: res.status, servedBy: res.headers.get('x-served-by'), cookie: res.headers.get('set-cookie')?.split(';')[0], body }
}

/** Logs in and returns the session cookie. */
export async function login(base: string, username = 'alice', password = `${username}-pass`, userAgent?: string): Promise<string> {
  const r = await call(base, '/api/auth/login', { body: { username, password }, ...(userAgent ? { userAgent } : {}) })
  if (r.status !== 200 || !r.cookie) throw new Error(`login failed: ${r.status} ${JSON.stringify(r.body)}`)
  return r.cookie
}
