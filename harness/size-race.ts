/**
 * The maxSize race over HTTP (test/core/max-size-race.test.ts and the chaos fault
 * `maxsize-race`): many concurrent requests each set a different big attribute on ONE session.
 * Each request on its own is under `maxSize`; only the store, checking what it holds, can stop
 * them together passing it. An app on node:http (sessionmesh/node) on a free port.
 */
import { createServer } from 'node:http'
import { withSession } from '../src/adapters/node/index.js'
import { createSessions, type SessionStore } from '../src/index.js'
import { sessionBytes } from '../src/core/ops.js'
import { Client, closeServer, listen } from './http.js'

export interface RaceOutcome {
  /** Status of each big set, in request order. */
  statuses: number[]
  /** Bytes of names + stored values the store holds afterwards (as maxSize counts them). */
  storedBytes: number
  /** Attributes the store holds afterwards. */
  storedNames: string[]
  /** Status of each small write made after the race (each must be 200). */
  laterSmallWrites: number[]
  maxSize: number
}

/** Runs `requests` concurrent sets of `bytes`-long values on one session against `store` (closed afterwards). */
export async function sizeRace(store: SessionStore, options: { requests?: number; bytes?: number; maxSize?: number } = {}): Promise<RaceOutcome> {
  const requests = options.requests ?? 40
  const bytes = options.bytes ?? 60_000
  const maxSize = options.maxSize ?? 64 * 1024
  const sessions = createSessions({ store, secret: 'size-race-secret-0123456789-abcdefghijkl', maxSize, sweepInterval: false })
  const big = 'x'.repeat(bytes)
  // Every big set waits until all of them have loaded the session: each then sees the same
  // small session, as when they arrive on different instances at once.
  let arrived = 0
  let allArrived: () => void = () => {}
  const barrier = new Promise<void>((resolve) => (allArrived = resolve))
  const server = createServer(
    withSession(sessions, async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost')
      const name = url.searchParams.get('name') ?? 'n'
      if (url.pathname === '/big') {
        if (++arrived === requests) allArrived()
        await barrier
        req.session[name] = big
      }
      else if (url.pathname === '/small') req.session[name] = url.searchParams.get('value') ?? ''
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ id: req.sessionID }))
    }),
  )
  const app = await listen(server)
  try {
    const client = new Client(app.url)
    const first = await client.get('/small?name=start&value=1')
    if (first.status !== 200 || !client.cookie) throw new Error(`could not start a session: ${first.status} ${first.text}`)
    const cookie = client.cookie
    const replies = await Promise.all(Array.from({ length: requests }, (_, i) => client.get(`/big?name=big${i}`, { cookie })))
    const id = first.body.id
    if (typeof id !== 'string') throw new Error(`no session id in ${first.text}`)
    const stored = await store.load(id, Date.now())
    const laterSmallWrites: number[] = []
    for (let i = 0; i < 3; i++) laterSmallWrites.push((await client.get(`/small?name=later${i}&value=ok`, { cookie })).status)
    return {
      statuses: replies.map((r) => r.status),
      storedBytes: stored ? sessionBytes(stored.attributes) : -1,
      storedNames: stored ? [...stored.attributes.keys()] : [],
      laterSmallWrites,
      maxSize,
    }
  } finally {
    await closeServer(server)
    await sessions.close()
  }
}
