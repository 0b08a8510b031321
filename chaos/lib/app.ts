/** Starting the app under fault (../apps/*.ts) as a child OS process and watching it for crashes. */
import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

export interface AppProcess {
  url: string
  /** Every port line printed (`listening <port>` or `listening <name> <port>`), by name ('' for one). */
  ports: Map<string, number>
  process: ChildProcess
  /** True once the process exited without being asked to (a crash). */
  crashed(): boolean
  /** How it exited, if it did. */
  exit(): string | null
  /** The last few KB of its stderr. */
  stderr(): string
  stop(): Promise<void>
}

/**
 * Spawns `node --import tsx <app>` with `env`, resolves once it has printed `ports` port
 * lines (`listening [name] <port>`).
 */
export function spawnApp(app: string, env: Record<string, string>, options: { nodeArgs?: string[]; ports?: number } = {}): Promise<AppProcess> {
  const entry = fileURLToPath(new URL(`../apps/${app}`, import.meta.url))
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', entry], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let err = ''
  let stopping = false
  let exitText: string | null = null
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-8000)))
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exitText = `${code ?? signal}`
      resolve()
    }),
  )
  const ports = new Map<string, number>()
  const handle: AppProcess = {
    url: '',
    ports,
    process: child,
    crashed: () => exitText !== null && !stopping,
    exit: () => exitText,
    stderr: () => err,
    async stop() {
      stopping = true
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    },
  }
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`${app} exited before listening (${code ?? signal}):\n${err}`)))
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^listening (?:(\S+) )?(\d+)$/.exec(line)
      if (!m) return
      ports.set(m[1] ?? '', Number(m[2]))
      if (ports.size === (options.ports ?? 1)) {
        handle.url = `http://127.0.0.1:${[...ports.values()][0]}`
        resolve(handle)
      }
    })
  })
}
