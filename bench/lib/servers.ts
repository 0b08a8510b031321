// Starts each benchmark server in its own child process and tracks every child (the private
// redis-server too) so that none survives the runner (normal exit, SIGINT/SIGTERM, or an error).
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'

export interface RunningServer {
  name: string
  port: number
  origin: string
  child: ChildProcess
  /** Asks the server to exit (SIGTERM) and waits for it. */
  stop(): Promise<void>
}

const children = new Set<ChildProcess>()
const STARTUP_TIMEOUT_MS = 30_000

/** Another child the runner must not leave behind (the private redis-server). */
export function trackChild(child: ChildProcess): void {
  children.add(child)
  child.once('exit', () => children.delete(child))
}

export function serverFile(name: string): string {
  return fileURLToPath(new URL(`../servers/${name}.ts`, import.meta.url))
}

/** Spawns `node [nodeArgs] --import tsx bench/servers/<name>.ts` and waits for its port line. */
export async function startServer(name: string, nodeArgs: string[] = [], env: Record<string, string> = {}): Promise<RunningServer> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', serverFile(name)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, NODE_ENV: 'production', ...env },
  })
  trackChild(child)

  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout })
    const timer = setTimeout(() => fail(new Error(`${name}: no port line within ${STARTUP_TIMEOUT_MS} ms`)), STARTUP_TIMEOUT_MS)
    const onExit = (code: number | null, signal: string | null) =>
      fail(new Error(`${name}: exited before listening (code ${code}, signal ${signal})`))
    function fail(e: Error) {
      clearTimeout(timer)
      child.off('exit', onExit)
      lines.close()
      reject(e)
    }
    child.once('exit', onExit)
    child.once('error', fail)
    lines.on('line', (line) => {
      const m = /^(\d+)$/.exec(line.trim())
      if (!m) return
      clearTimeout(timer)
      child.off('exit', onExit)
      lines.close()
      child.stdout.resume() // keep draining anything the server prints later
      resolve(Number(m[1]))
    })
  })

  return {
    name,
    port,
    origin: `http://127.0.0.1:${port}`,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    },
  }
}

/** Synchronous last resort: used from the `exit` handler and on signals. */
export function killAllServers(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
  }
  children.clear()
}

let installed = false
/** Kills every child on exit, Ctrl-C, SIGTERM and uncaught errors. */
export function installCleanup(): void {
  if (installed) return
  installed = true
  process.on('exit', killAllServers)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\n${signal}: stopping servers\n`)
      killAllServers()
      process.exit(130)
    })
  }
  process.on('uncaughtException', (e) => {
    process.stderr.write(`${e.stack ?? e}\n`)
    killAllServers()
    process.exit(1)
  })
}
