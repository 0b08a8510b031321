/**
 * Real Redis for tests: standalone servers, a Redis Cluster and a Sentinel set-up, each
 * started on free ports in a private directory, polled until ready, and stopped. Never
 * touches the machine's shared Redis on 6379.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server'
const REDIS_CLI = process.env.REDIS_CLI ?? 'redis-cli'

/** A port nothing listens on right now (the kernel's choice), below 55535 is not needed: cluster-port is set explicitly. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.unref()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const address = s.address()
      s.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/** One redis-cli command against 127.0.0.1:port; its plain-text reply. */
export async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run(REDIS_CLI, ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 })
  return stdout.trim()
}

/** Polls `probe` until it returns true; fails with `what` after `timeoutMs`. */
export async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      if (await probe()) return
    } catch (e) {
      last = e
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

export interface RedisProcess {
  port: number
  /** The server's working directory (its AOF/RDB files), for a restart with the same data. */
  dir: string
  url: string
  process: ChildProcess
  /** Stops the server (SIGTERM, then waits for the exit). Idempotent. */
  stop(): Promise<void>
  /** SIGKILL: a crash, no shutdown save. */
  kill(): Promise<void>
}

const dirs: string[] = []
function workDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sessionmesh-redis-'))
  dirs.push(d)
  return d
}
process.on('exit', () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

/** Spawns redis-server with `args` (after a config file, if given) and waits for PING. */
async function spawnServer(port: number, dir: string, args: string[], readyProbe?: () => Promise<boolean>): Promise<RedisProcess> {
  const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)))
  child.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)))
  const failed = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) => reject(new Error(`redis-server on ${port} exited (${code ?? signal}) during start:\n${output}`))),
  )
  failed.catch(() => {})
  await Promise.race([until(`redis on ${port}`, readyProbe ?? (async () => (await cli(port, 'PING')) === 'PONG')), failed])
  const proc: RedisProcess = {
    port,
    dir,
    url: `redis://127.0.0.1:${port}`,
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await exited(child)
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited(child)
    },
  }
  return proc
}

const BASE = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--loglevel', 'warning']

/** A standalone redis-server on a free port. `extra` are more command-line options. */
export async function startRedis(extra: string[] = [], port?: number, dir?: string): Promise<RedisProcess> {
  const p = port ?? (await freePort())
  const d = dir ?? workDir()
  return spawnServer(p, d, ['--port', String(p), '--dir', d, ...BASE, ...extra])
}

export interface RedisClusterProcesses {
  nodes: RedisProcess[]
  rootNodes: Array<{ url: string }>
  stop(): Promise<void>
}

/** A Redis Cluster of `masters` masters (and `replicas` replicas each), slots assigned and state ok on every node. */
export async function startCluster(masters = 3, replicas = 0): Promise<RedisClusterProcesses> {
  const total = masters * (1 + replicas)
  const nodes: RedisProcess[] = []
  try {
    for (let i = 0; i < total; i++) {
      const port = await freePort()
      const busPort = await freePort()
      const dir = workDir()
      nodes.push(
        await spawnServer(port, dir, [
          '--port', String(port), '--dir', dir, ...BASE,
          '--cluster-enabled', 'yes', '--cluster-port', String(busPort),
          '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-node-timeout', '2000',
        ]),
      )
    }
    await run(
      REDIS_CLI,
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'],
      { timeout: 60_000 },
    )
    for (const n of nodes) {
      await until(`cluster state ok on ${n.port}`, async () => {
        const info = await cli(n.port, 'CLUSTER', 'INFO')
        return info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${total}`) && info.includes('cluster_slots_ok:16384')
      })
    }
    // Every node must agree who serves every slot before clients cache the map.
    await until('cluster slot map agreed', async () => {
      const maps = await Promise.all(nodes.map((n) => cli(n.port, 'CLUSTER', 'SHARDS')))
      return maps.every((m) => m.split('\n').filter((l) => l === 'master').length === masters)
    })
  } catch (e) {
    await Promise.all(nodes.map((n) => n.stop()))
    throw e
  }
  return {
    nodes,
    rootNodes: nodes.map((n) => ({ url: n.url })),
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()))
    },
  }
}

export interface SentinelProcesses {
  name: string
  master: RedisProcess
  replicas: RedisProcess[]
  sentinels: RedisProcess[]
  sentinelRootNodes: Array<{ host: string; port: number }>
  /** The port the sentinels currently name as master. */
  masterPort(): Promise<number>
  stop(): Promise<void>
}

/**
 * A master, `replicaCount` replicas in sync with it, and `sentinelCount` sentinels that
 * all know the master, the replicas and each other (so a failover can reach quorum).
 */
export async function startSentinel(replicaCount = 1, sentinelCount = 3, name = 'sessionmesh'): Promise<SentinelProcesses> {
  const started: RedisProcess[] = []
  try {
    const master = await startRedis()
    started.push(master)
    const replicas: RedisProcess[] = []
    for (let i = 0; i < replicaCount; i++) {
      const r = await startRedis(['--replicaof', '127.0.0.1', String(master.port)])
      started.push(r)
      replicas.push(r)
      await until(`replica ${r.port} in sync`, async () => (await cli(r.port, 'INFO', 'replication')).includes('master_link_status:up'))
    }
    const sentinels: RedisProcess[] = []
    for (let i = 0; i < sentinelCount; i++) {
      const port = await freePort()
      const dir = workDir()
      const conf = join(dir, 'sentinel.conf')
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          'protected-mode no',
          `sentinel monitor ${name} 127.0.0.1 ${master.port} ${Math.floor(sentinelCount / 2) + 1}`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 5000`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      )
      const s = await spawnServer(port, dir, [conf, '--sentinel', '--loglevel', 'warning'])
      started.push(s)
      sentinels.push(s)
    }
    for (const s of sentinels) {
      await until(`sentinel ${s.port} knows the set-up`, async () => {
        const others = await cli(s.port, 'SENTINEL', 'SENTINELS', name)
        const reps = await cli(s.port, 'SENTINEL', 'REPLICAS', name)
        const peers = others.split('\n').filter((l) => l === 'runid').length
        const known = replicas.every((r) => reps.includes(String(r.port)))
        return peers === sentinelCount - 1 && known
      })
    }
    const first = sentinels[0]!
    return {
      name,
      master,
      replicas,
      sentinels,
      sentinelRootNodes: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
      async masterPort() {
        const reply = await cli(first.port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)
        return Number(reply.split('\n')[1])
      },
      stop: async () => {
        await Promise.all(started.map((p) => p.stop()))
      },
    }
  } catch (e) {
    await Promise.all(started.map((p) => p.stop()))
    throw e
  }
}
