/**
 * Real NATS for tests: a nats-server with JetStream on free ports and a private store
 * directory, polled (its monitoring /healthz) until JetStream is ready, restartable on the
 * same port and directory, and stopped. Never touches the machine's shared NATS on 4222.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, until } from './redis.js'

const NATS_SERVER = process.env.NATS_SERVER ?? '/usr/sbin/nats-server'

export interface NatsProcess {
  port: number
  url: string
  /** The JetStream store directory (kept across `restart`). */
  dir: string
  /** Stops the server (SIGTERM, then waits for the exit). Idempotent. */
  stop(): Promise<void>
  /** Stops and starts it again on the same port with the same store: every connection drops. */
  restart(): Promise<void>
}

const dirs: string[] = []
process.on('exit', () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

async function healthy(monitorPort: number): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${monitorPort}/healthz?js-enabled-only=true`)
  await res.arrayBuffer()
  return res.ok
}

/** A nats-server with JetStream (`-js -sd <tmpdir>`) on a free port, ready when it returns. */
export async function startNats(): Promise<NatsProcess> {
  const port = await freePort()
  const monitorPort = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'sessionmesh-nats-'))
  dirs.push(dir)
  let child: ChildProcess

  const launch = async () => {
    child = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), '-js', '-sd', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    const keep = (d: Buffer) => (output = (output + d.toString()).slice(-4000))
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    const failed = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) => reject(new Error(`nats-server on ${port} exited (${code ?? signal}) during start:\n${output}`))),
    )
    failed.catch(() => {})
    await Promise.race([until(`nats on ${port}`, () => healthy(monitorPort)), failed])
  }
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited(child)
  }
  await launch()
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    dir,
    stop,
    async restart() {
      await stop()
      await launch()
    },
  }
}
