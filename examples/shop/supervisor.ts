/**
 * A tiny process supervisor: starts each child as its own OS process, waits until it says
 * `listening <port>`, restarts one that dies (on the same port, so the gateway's routes stay
 * valid), and on stop ends them all and waits for every exit.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

export interface ChildSpec {
  /** e.g. `cart-2`; prefixes the child's output. */
  name: string
  script: string
  env: Record<string, string>
}

export interface RunningChild {
  name: string
  port: number
  readonly pid: number | undefined
}

/** Restarts allowed per child: a child that keeps crashing is a bug to look at, not to hide. */
const MAX_RESTARTS = 5
/** How long a child may take to exit after SIGTERM before it is killed. */
const STOP_GRACE_MS = 5000

export class Supervisor {
  #children = new Map<string, ChildProcess>()
  #stopping = false

  get stopping(): boolean {
    return this.#stopping
  }

  /** Starts `spec` and resolves with its port once it listens; rejects if it exits first. */
  async start(spec: ChildSpec, restarts = 0): Promise<RunningChild> {
    const child = spawn(process.execPath, ['--import', 'tsx', spec.script], {
      env: { ...process.env, ...spec.env },
      // The IPC channel lets a child notice the supervisor is gone even after a SIGKILL.
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    })
    this.#children.set(spec.name, child)
    const port = await new Promise<number>((resolve, reject) => {
      const early = (code: number | null, signal: NodeJS.Signals | null) =>
        reject(new Error(`${spec.name} exited before listening (${signal ?? `code ${code}`})`))
      child.once('exit', early)
      child.once('error', reject)
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const m = /^listening (\d+)$/.exec(line)
        if (m) {
          child.off('exit', early)
          resolve(Number(m[1]))
        } else {
          process.stdout.write(`[${spec.name}] ${line}\n`)
        }
      })
    })
    child.once('exit', (code, signal) => {
      if (this.#stopping || this.#children.get(spec.name) !== child) return
      // A clean exit was asked for (Ctrl-C in a terminal signals every process of the group,
      // and a child may finish before our own handler runs): only a crash is restarted.
      if (code === 0 || signal === 'SIGINT' || signal === 'SIGTERM') return
      if (restarts >= MAX_RESTARTS) {
        console.error(`${spec.name} exited (${signal ?? `code ${code}`}) ${MAX_RESTARTS + 1} times; not restarting it`)
        return
      }
      console.error(`${spec.name} exited (${signal ?? `code ${code}`}); restarting it on port ${port}`)
      this.start({ ...spec, env: { ...spec.env, PORT: String(port) } }, restarts + 1).catch((e: unknown) =>
        console.error(`${spec.name} did not come back: ${e instanceof Error ? e.message : String(e)}`),
      )
    })
    const children = this.#children
    return {
      name: spec.name,
      port,
      get pid() {
        return children.get(spec.name)?.pid
      },
    }
  }

  /** SIGTERM to every child (SIGKILL after a grace period); resolves when all have exited. */
  async stop(): Promise<void> {
    this.#stopping = true
    await Promise.all(
      [...this.#children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve()
            const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
            child.once('exit', () => {
              clearTimeout(kill)
              resolve()
            })
            child.kill('SIGTERM')
          }),
      ),
    )
  }
}
