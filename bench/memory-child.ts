// One measurement of the `memory` scenario, in a child process of the runner started with
// `--expose-gc`: builds one subject's Express app in this process, logs in MEMORY_WARMUP +
// MEMORY_SESSIONS users through real HTTP requests (`POST /login-cart?u=<n>`: user, principal
// and a 3-item cart, each user its own session), and prints one JSON line: the heap growth over
// the measured sessions (after full GCs), and how many sessions were created in all (Redis
// subjects: the runner measures Redis itself after this process has exited).
import { Agent, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Express } from 'express'
import { RedisStore } from 'connect-redis'
import { createClient } from 'redis'
import type * as RedisApi from '../src/stores/redis/index.js'
import { createApp as createExpressSessionApp } from './servers/express-session-app.js'
import { createExpressApp, load } from './servers/sessionmesh-app.js'

export type MemorySubjectId = 'sessionmesh-memory' | 'express-session-memory' | 'sessionmesh-redis' | 'connect-redis'

export interface ChildReport {
  subject: MemorySubjectId
  /** Sessions logged in, warm-up included (all of them are in the store). */
  created: number
  /** Sessions logged in between the two heap readings. */
  measured: number
  /** heapUsed after − before (bytes), after full GCs, over `measured` sessions. */
  heapBytes: number
  /** external + arrayBuffers after − before (bytes). */
  externalBytes: number
}

const CONCURRENCY = 8

async function subjectApp(subject: MemorySubjectId): Promise<{ app: Express; close: () => Promise<void> }> {
  const url = process.env.BENCH_REDIS_URL
  switch (subject) {
    case 'sessionmesh-memory':
      return createExpressApp((api) => api.memoryStore())
    case 'express-session-memory':
      return { app: createExpressSessionApp(), close: async () => {} }
    case 'sessionmesh-redis': {
      if (!url) throw new Error('BENCH_REDIS_URL is not set')
      const { redisStore } = await load<typeof RedisApi>('stores/redis/index.js')
      return createExpressApp(() => redisStore({ url, prefix: 'bench-mem-sm:' }))
    }
    case 'connect-redis': {
      if (!url) throw new Error('BENCH_REDIS_URL is not set')
      const client = createClient({ url })
      await client.connect()
      const app = createExpressSessionApp(new RedisStore({ client, prefix: 'bench-mem-cr:' }))
      return { app, close: async () => void (await client.close()) }
    }
  }
}

async function main(): Promise<void> {
  const gc = globalThis.gc
  if (!gc) throw new Error('run with --expose-gc')
  const subject = process.env.MEMORY_SUBJECT as MemorySubjectId
  const count = Number(process.env.MEMORY_SESSIONS ?? 10_000)
  const warmup = Number(process.env.MEMORY_WARMUP ?? 500)
  const { app, close } = await subjectApp(subject)
  const server = app.listen(0, '127.0.0.1')
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  const port = (server.address() as AddressInfo).port
  // The same keep-alive sockets before and after: they cancel out of the heap difference.
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY })

  const login = (u: number) =>
    new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: `/login-cart?u=${u}`, agent }, (res) => {
        res.resume()
        res.on('end', () => {
          if (res.statusCode !== 200 || !res.headers['set-cookie']) reject(new Error(`${subject}: login ${u} answered ${res.statusCode} without a session cookie`))
          else resolve()
        })
      })
      req.on('error', reject)
      req.end()
    })
  const loginAll = async (from: number, to: number) => {
    let next = from
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < to) await login(next++)
      }),
    )
  }
  const settle = async () => {
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 20))
      gc()
    }
    return process.memoryUsage()
  }

  await loginAll(0, warmup)
  const before = await settle()
  await loginAll(warmup, warmup + count)
  const after = await settle()
  const report: ChildReport = {
    subject,
    created: warmup + count,
    measured: count,
    heapBytes: after.heapUsed - before.heapUsed,
    externalBytes: after.external + after.arrayBuffers - (before.external + before.arrayBuffers),
  }
  agent.destroy()
  server.closeAllConnections()
  server.close()
  await close()
  process.stdout.write(`${JSON.stringify(report)}\n`)
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`memory child failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    process.exit(1)
  },
)
