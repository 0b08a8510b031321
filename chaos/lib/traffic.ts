/**
 * HTTP load against the app under fault (chaos/apps/server.ts): `users` users, each with its
 * own session, each in a loop of writes (a new attribute per write, so no write can hide
 * another), reads and atomic increments. Records every answer and every acknowledged (200)
 * write, per session, so what the store lost can be counted afterwards.
 */
import { type Answer, HttpClient, NO_ANSWER, User } from './http.js'

export interface Outcome {
  user: number
  started: number
  at: number
  status: number
  /** The JSON `code` of a failure answer (STORE_UNAVAILABLE, NOT_REPLICATED…), or the client error. */
  code: string
  /** A 503 that carries Retry-After and the documented JSON message. */
  documented503: boolean
}

/** The answer the session layer gives when its store is down (src/core/failure.ts). */
export const STORE_DOWN_MESSAGE = 'session store unavailable, try again shortly'

export class Traffic {
  readonly http: HttpClient
  readonly users: User[]
  readonly outcomes: Outcome[] = []
  /** Per session cookie: the attributes acknowledged (k -> v) and increments acknowledged. */
  readonly acked = new Map<string, { sets: Map<string, number>; incs: number; user: number }>()
  /** Times a user's cookie changed outside a login (its session vanished and a new one was made). */
  sessionsReplaced = 0
  #running: Promise<void>[] = []
  #stop = false
  #seq = 0

  constructor(
    readonly base: string,
    users: number,
    readonly options: { incrEvery?: number; readEvery?: number; timeoutMs?: number; pauseMs?: number } = {},
  ) {
    this.http = new HttpClient(base, users * 2)
    this.users = Array.from({ length: users }, () => new User(this.http))
  }

  /** Creates every user's session (retrying until the app answers 200), then starts the loops. */
  async start(): Promise<void> {
    await Promise.all(
      this.users.map(async (u, i) => {
        for (let attempt = 0; ; attempt++) {
          const a = await u.post(`/set?k=init&v=${i}`, { timeoutMs: this.options.timeoutMs ?? 10_000 })
          if (a.status === 200 && u.cookie) {
            this.#ledger(u.cookie, i).sets.set('init', i)
            break
          }
          if (attempt > 200) throw new Error(`user ${i} could not create a session: ${a.status} ${a.text.slice(0, 200)}`)
          await new Promise((r) => setTimeout(r, 50))
        }
      }),
    )
    this.#running = this.users.map((u, i) => this.#loop(u, i))
  }

  #ledger(cookie: string, user: number) {
    let l = this.acked.get(cookie)
    if (!l) this.acked.set(cookie, (l = { sets: new Map(), incs: 0, user }))
    return l
  }

  async #loop(u: User, index: number): Promise<void> {
    const incrEvery = this.options.incrEvery ?? 5
    const readEvery = this.options.readEvery ?? 2
    let last = 'init'
    for (let step = 0; !this.#stop; step++) {
      const cookie = u.cookie
      const started = Date.now()
      let a: Answer
      let onOk: ((now: string) => void) | undefined
      if (step % readEvery === 1) {
        a = await u.get(`/get?k=${last}`, { timeoutMs: this.options.timeoutMs ?? 10_000 })
      } else if (step % incrEvery === 0) {
        a = await u.post('/incr', { timeoutMs: this.options.timeoutMs ?? 10_000 })
        onOk = (now) => void this.#ledger(now, index).incs++
      } else {
        const seq = ++this.#seq
        const k = `w${seq}`
        a = await u.post(`/set?k=${k}&v=${seq}`, { timeoutMs: this.options.timeoutMs ?? 10_000 })
        onOk = (now) => {
          last = k
          this.#ledger(now, index).sets.set(k, seq)
        }
      }
      if (a.status === 200 && u.cookie) {
        // The write landed in the session the answer's cookie names (a new one if the old vanished).
        if (u.cookie !== cookie) this.sessionsReplaced++
        onOk?.(u.cookie)
      }
      const code = a.status === NO_ANSWER ? `client: ${a.text.slice(0, 80)}` : typeof a.body.code === 'string' ? a.body.code : ''
      this.outcomes.push({
        user: index,
        started,
        at: a.at,
        status: a.status,
        code,
        documented503: a.status === 503 && a.body.error === STORE_DOWN_MESSAGE && a.headers['retry-after'] !== undefined,
      })
      if (a.status !== 200) await new Promise((r) => setTimeout(r, 20)) // a client backing off a little, as Retry-After asks
      else if (this.options.pauseMs) await new Promise((r) => setTimeout(r, this.options.pauseMs))
    }
  }

  /** Acknowledged (200) answers so far, optionally only those completed after `since`. */
  okCount(since = 0): number {
    let n = 0
    for (const o of this.outcomes) if (o.status === 200 && o.at >= since) n++
    return n
  }

  async stop(): Promise<void> {
    this.#stop = true
    await Promise.all(this.#running)
  }

  /**
   * Reads every session the load wrote to (through the app) and counts acknowledged writes
   * that are not there: a set attribute missing or different, or fewer increments than were acknowledged.
   */
  async verify(): Promise<{ sessions: number; ackedWrites: number; lost: number; lostSessions: number; examples: string[] }> {
    let ackedWrites = 0
    let lost = 0
    let lostSessions = 0
    const examples: string[] = []
    for (const [cookie, l] of this.acked) {
      ackedWrites += l.sets.size + l.incs
      let a: Answer | undefined
      for (let attempt = 0; attempt < 100; attempt++) {
        a = await this.http.send('/all', { headers: { cookie }, timeoutMs: 10_000 })
        if (a.status === 200) break
        await new Promise((r) => setTimeout(r, 100))
      }
      if (!a || a.status !== 200) throw new Error(`cannot read a session back: ${a?.status} ${a?.text.slice(0, 200)}`)
      const attrs = (a.body.attributes ?? {}) as Record<string, unknown>
      const sessionGone = Object.keys(attrs).length === 0
      if (sessionGone) lostSessions++
      for (const [k, v] of l.sets) {
        if (attrs[k] !== v) {
          lost++
          if (examples.length < 5) examples.push(`user ${l.user}: ${k}=${v} acknowledged, found ${JSON.stringify(attrs[k])}${sessionGone ? ' (session gone)' : ''}`)
        }
      }
      const n = typeof attrs.n === 'number' ? attrs.n : 0
      if (n < l.incs) {
        lost += l.incs - n
        if (examples.length < 5) examples.push(`user ${l.user}: ${l.incs} increments acknowledged, n=${n}`)
      }
    }
    return { sessions: this.acked.size, ackedWrites, lost, lostSessions, examples }
  }

  close(): void {
    this.http.close()
  }
}

/** Status (and failure code) counts of `outcomes`, e.g. { '200': 9120, '503 STORE_UNAVAILABLE': 41 }. */
/**
 * After a failover run: reports a crashed app (with the end of its stderr), checks every
 * acknowledged write unless it crashed, and stops both the load and the app.
 */
export async function settle(
  mode: string,
  app: { crashed(): boolean; exit(): unknown; stderr(): string; stop(): Promise<void> },
  load: Traffic,
  log: (line: string) => void,
): Promise<{ crashed: boolean; verify: Awaited<ReturnType<Traffic['verify']>> }> {
  const crashed = app.crashed()
  if (crashed) log(`${mode}: the app process exited (${String(app.exit())}):\n${app.stderr().slice(-3000)}`)
  const verify = crashed ? { sessions: 0, ackedWrites: 0, lost: NaN, lostSessions: NaN, examples: ['not checked: the app crashed'] } : await load.verify()
  load.close()
  await app.stop()
  return { crashed, verify }
}

export function statusCounts(outcomes: Outcome[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const o of outcomes) {
    const key = o.status === 200 ? '200' : o.status === NO_ANSWER ? `no answer (${o.code})` : `${o.status}${o.code ? ` ${o.code}` : ''}`
    out[key] = (out[key] ?? 0) + 1
  }
  return out
}

export interface Timeline {
  /** From the fault to the first success after the last failure (the service stably back); 0 with no failure. */
  windowMs: number
  /** The longest time with no successful answer to any user, from the fault on. */
  maxStallMs: number
  /** Failure answers after the fault. */
  failures: number
  /** After `backAt`: until the first success, and until every user has had one. */
  firstOkAfterMs: number | null
  allUsersOkAfterMs: number | null
}

export function timeline(outcomes: Outcome[], faultAt: number, users: number, backAt?: number): Timeline {
  const after = outcomes.filter((o) => o.at >= faultAt).sort((a, b) => a.at - b.at)
  const fails = after.filter((o) => o.status !== 200)
  const lastFail = fails.at(-1)
  let windowMs = 0
  if (lastFail) {
    const next = after.find((o) => o.status === 200 && o.at > lastFail.at)
    windowMs = (next?.at ?? lastFail.at) - faultAt
  }
  let maxStallMs = 0
  let prev = faultAt
  for (const o of after) {
    if (o.status !== 200) continue
    maxStallMs = Math.max(maxStallMs, o.at - prev)
    prev = o.at
  }
  let firstOkAfterMs: number | null = null
  let allUsersOkAfterMs: number | null = null
  if (backAt !== undefined) {
    const oks = after.filter((o) => o.status === 200 && o.at >= backAt)
    firstOkAfterMs = oks[0] ? oks[0].at - backAt : null
    const seen = new Set<number>()
    for (const o of oks) {
      seen.add(o.user)
      if (seen.size === users) {
        allUsersOkAfterMs = o.at - backAt
        break
      }
    }
  }
  return { windowMs, maxStallMs, failures: fails.length, firstOkAfterMs, allUsersOkAfterMs }
}
