// The runner's private redis-server (free port, no persistence, never the shared 6379) and
// the two ways the runner looks at it: INFO stats around a measured window (commands Redis
// executed, Lua-internal ones included), and MONITOR over a separate counting window for the
// store round trips per request (commands clients sent; lines tagged `lua` left out, since
// Redis 7 counts a script's internal calls in total_commands_processed too).
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient } from 'redis'
import { freePort, until } from '../../harness/redis.js'
import { trackChild } from './servers.js'

const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server'
const STARTUP_TIMEOUT_MS = 15_000

type Client = ReturnType<typeof createClient>

export interface BenchRedis {
  url: string
  port: number
  pid: number | undefined
  version: string
  /** Redis' own total_commands_processed (INFO stats). */
  commandsProcessed(): Promise<number>
  /** How many commands one INFO call adds to the counter (subtracted from windows). */
  readonly infoOverhead: number
  /**
   * Waits until no client has sent Redis anything for a while: a server still works through
   * requests it had read when the last load stopped, and those must not count in the next window.
   */
  quiet(): Promise<void>
  /** Runs `fn` with MONITOR on and returns the commands clients sent meanwhile (not Lua's). */
  commandsSentDuring(fn: () => Promise<void>): Promise<string[]>
  stop(): Promise<void>
}

const infoField = (info: string, field: string): string | undefined => new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim()

export async function startRedis(): Promise<BenchRedis> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'sessionmesh-bench-redis-'))
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--loglevel', 'warning']
  const child: ChildProcess = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  trackChild(child)
  let output = ''
  const keep = (d: Buffer) => void (output = (output + d.toString()).slice(-4000))
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const removeDir = () => rmSync(dir, { recursive: true, force: true })
  process.once('exit', removeDir)
  const spawnFailed = new Promise<never>((_, reject) => {
    child.once('error', (e) => reject(new Error(`cannot run ${REDIS_SERVER}: ${e.message}`)))
    child.once('exit', (code, signal) => reject(new Error(`redis-server on ${port} exited (${code ?? signal}) during start:\n${output}`)))
  })
  spawnFailed.catch(() => {})

  const url = `redis://127.0.0.1:${port}`
  const stopProcess = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      await exited
    }
    removeDir()
  }
  const admin: Client = createClient({ url, socket: { reconnectStrategy: false } })
  admin.on('error', () => {})
  try {
    await Promise.race([
      until(`redis-server on ${port}`, async () => {
        if (!admin.isOpen) await admin.connect()
        return (await admin.ping()) === 'PONG'
      }, STARTUP_TIMEOUT_MS),
      spawnFailed,
    ])
  } catch (e) {
    admin.destroy()
    await stopProcess()
    throw e
  }

  const commandsProcessed = async () => Number(infoField(await admin.info('stats'), 'total_commands_processed'))
  const version = infoField(await admin.info('server'), 'redis_version') ?? 'unknown'
  // Two back-to-back readings differ by what the first INFO itself added.
  const a = await commandsProcessed()
  const b = await commandsProcessed()
  const infoOverhead = b - a

  const quiet = async () => {
    let last = await commandsProcessed()
    await until('Redis to go quiet', async () => {
      await new Promise((r) => setTimeout(r, 100))
      const now = await commandsProcessed()
      const idle = now - last <= infoOverhead
      last = now
      return idle
    }, STARTUP_TIMEOUT_MS)
  }

  return {
    url,
    port,
    pid: child.pid,
    version,
    commandsProcessed,
    infoOverhead,
    quiet,
    async commandsSentDuring(fn) {
      await quiet()
      // Fenced by ECHO markers from the admin connection, so only lines in between count.
      const lines: string[] = []
      const monitor: Client = createClient({ url, socket: { reconnectStrategy: false } })
      monitor.on('error', () => {})
      await monitor.connect()
      let n = 0
      const mark = async () => {
        const m = `bench-mark-${process.pid}-${n++}`
        await admin.sendCommand(['ECHO', m])
        await until(`MONITOR to show ${m}`, async () => lines.some((l) => l.includes(`"${m}"`)))
        return m
      }
      try {
        await monitor.monitor((line) => lines.push(line))
        const start = await mark()
        await fn()
        const end = await mark()
        const from = lines.findIndex((l) => l.includes(`"${start}"`))
        const to = lines.findIndex((l) => l.includes(`"${end}"`))
        return lines.slice(from + 1, to).filter((l) => !/\[\d+ lua\]/.test(l))
      } finally {
        monitor.destroy()
      }
    },
    async stop() {
      if (admin.isOpen) admin.destroy()
      await stopProcess()
    },
  }
}

/** `1700000000.123456 [0 127.0.0.1:5000] "evalsha" "…"` → `evalsha`. */
export function commandName(monitorLine: string): string {
  return (/\] "([^"]*)"/.exec(monitorLine)?.[1] ?? '?').toLowerCase()
}
