/**
 * Issue 4's lock guarantees under real faults, with the lock holders as OS processes:
 *
 * - a holder SIGSTOPped past its lease, while another worker takes the lock and writes, is
 *   refused when it resumes (LockLostError; in one variant provably by the store's fence
 *   check: cause StaleFenceError) and the other worker's write is kept;
 * - three workers doing a plain read-modify-write under the lock, one of them SIGSTOPped past
 *   its lease now and then, never lose or duplicate an update;
 * - a SIGKILLed holder blocks others until its lease runs out, then not at all;
 * - quorum locks over three independent Redis masters stay safe and keep granting locks with
 *   one master killed, and grant none (corrupting nothing) with two down.
 *
 * The workers record every critical section in the session's `history` ({fence, worker,
 * read}); the invariants checked are those of a correct mutual exclusion over fenced writes:
 * fences strictly increase, each read equals the previous write (no lost update), and the
 * counter equals the number of critical sections reported successful.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import {
  createSessions,
  LockLostError,
  LockTimeoutError,
  type Session,
  type Sessions,
  type SessionStore,
} from '../../src/index.js'
import { quorumLocks, redisStore } from '../../src/stores/redis/index.js'
import { run } from '../core/helpers.js'
import { type RedisProcess, startRedis, until } from '../../harness/redis.js'
import type { HistoryEntry } from './fixtures/app.js'
import { storeFrom } from './fixtures/stores.js'

const LOCKER = fileURLToPath(new URL('./fixtures/locker.ts', import.meta.url))
const SECRET = 'consistency-tests-secret-0123456789abcdef'
/** The short lease of the SIGSTOP tests, and how long a stopped worker stays stopped (the injected fault). */
const TTL_MS = 300
const STOPPED_MS = 3 * TTL_MS

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

type Line = { kind: string; body: Record<string, unknown> }

/** A fixtures/locker.ts process and the `<kind> <json>` lines it printed. */
class Locker extends EventEmitter<{ line: [Line] }> {
  readonly lines: Line[] = []
  readonly exited: Promise<void>
  constructor(readonly child: ChildProcess) {
    super()
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()))
    createInterface({ input: child.stdout! }).on('line', (text) => {
      const space = text.indexOf(' ')
      const line = { kind: space < 0 ? text : text.slice(0, space), body: space < 0 ? {} : (JSON.parse(text.slice(space + 1)) as Record<string, unknown>) }
      this.lines.push(line)
      this.emit('line', line)
    })
  }

  static spawn(store: string, id: string, env: Record<string, string>): Locker {
    const child = spawn(process.execPath, ['--import', 'tsx', LOCKER], {
      env: { ...process.env, STORE: store, SESSION_ID: id, ...env },
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    return new Locker(child)
  }

  /** The first line of `kind` (already printed or still to come); rejects if the process exits first. */
  next(kind: string): Promise<Record<string, unknown>> {
    const seen = this.lines.find((l) => l.kind === kind)
    if (seen) return Promise.resolve(seen.body)
    return new Promise((resolve, reject) => {
      const onLine = (l: Line) => {
        if (l.kind !== kind) return
        this.off('line', onLine)
        resolve(l.body)
      }
      this.on('line', onLine)
      void this.exited.then(() => {
        // Lines still buffered in the pipe are read before 'exit' handlers of readline close; recheck once.
        setImmediate(() => {
          const late = this.lines.find((l) => l.kind === kind)
          if (late) resolve(late.body)
          else reject(new Error(`locker exited (${this.child.exitCode ?? this.child.signalCode}) before printing ${kind}`))
        })
      })
    })
  }

  count(kind: string): number {
    return this.lines.filter((l) => l.kind === kind).length
  }

  send(line: string): void {
    this.child.stdin!.write(line + '\n')
  }

  signal(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal)
  }

  async kill(): Promise<void> {
    this.signal('SIGCONT')
    this.signal('SIGKILL')
    await this.exited
  }
}

/** The critical section the test process runs itself, the same read-modify-write as the workers'. */
function readModifyWrite(session: Session, fence: number, worker: string): number {
  const read = session.get<number>('c') ?? 0
  session.set('c', read + 1)
  session.set('history', [...(session.get<HistoryEntry[]>('history') ?? []), { fence, worker, read }])
  return read
}

interface State {
  c: number
  history: HistoryEntry[]
  other: unknown
  version: number
}

async function stateOf(sessions: Sessions, id: string): Promise<State> {
  const s = await sessions.get(id)
  assert.ok(s, 'the session is still there')
  return { c: s.get<number>('c') ?? 0, history: s.get<HistoryEntry[]>('history') ?? [], other: s.get('other'), version: s.version }
}

/**
 * Mutual exclusion over the fenced writes: in save order the fences strictly increase and
 * every critical section read what the previous one wrote (`c` starts at 0, so entry i read i);
 * the counter is the number of entries. A lost update shows as a repeated read, a stale
 * write as a fence going down.
 */
function assertHistory(state: State): void {
  state.history.forEach((e, i) => {
    assert.equal(e.read, i, `history[${i}] (${JSON.stringify(e)}) read ${e.read}, not the previous write ${i}: a lost update`)
    const previous = state.history[i - 1]
    if (previous) assert.ok(e.fence > previous.fence, `history[${i}] fence ${e.fence} after ${previous.fence}: a stale write`)
  })
  assert.equal(state.c, state.history.length)
}

/** A session with `c` = 0, an empty history and an unrelated attribute that must survive. */
async function newSession(sessions: Sessions): Promise<string> {
  const rs = await run(sessions, undefined, (r) => {
    r.session.set('c', 0)
    r.session.set('history', [])
    r.session.set('other', 'keep')
  })
  return rs.session.id
}

interface Backend {
  /** The STORE spec the locker processes get. */
  spec: string
  /** The test process's own connection to the same store. */
  store: SessionStore
  stop(): Promise<void>
}

function describeLocks(name: string, start: () => Promise<Backend>) {
  describe(`session locks under process faults: ${name}`, () => {
    let backend: Backend
    let sessions: Sessions
    const lockers: Locker[] = []
    const locker = (id: string, env: Record<string, string>) => {
      const l = Locker.spawn(backend.spec, id, env)
      lockers.push(l)
      return l
    }
    before(async () => {
      backend = await start()
      sessions = createSessions({ store: backend.store, secret: SECRET, sweepInterval: false, maxSize: 1 << 20 })
    })
    after(async () => {
      await Promise.all(lockers.map((l) => l.kill()))
      await sessions.close()
      await backend.stop()
    })

    /**
     * The scenario: the holder is stopped past its TTL while holding; the test process
     * takes the lock (waiting for the lease to run out) and writes; the holder resumes and tries
     * to write what it computed from its now-stale read.
     */
    async function pausedHolder(order: 'go' | 'save') {
      const id = await newSession(sessions)
      const holder = locker(id, { MODE: 'hold', TTL_MS: String(TTL_MS), WORKER: 'holder' })
      const held = await holder.next('holding')
      holder.signal('SIGSTOP')
      // No sleep needed: withLock polls until the stopped holder's lease has run out.
      const next = await sessions.withLock(id, async ({ session, fence }) => ({ fence, read: readModifyWrite(session, fence, 'next') }), {
        ttl: '10s',
        wait: '10s',
      })
      assert.ok(next.fence > (held.fence as number))
      assert.equal(next.read, held.read, 'both read the same value: only one of them may write')
      holder.signal('SIGCONT')
      holder.send(order)
      const result = await holder.next('result')
      await holder.exited

      assert.equal(result.ok, false, 'the resumed holder must not have saved')
      assert.equal(result.error, 'LockLostError')
      const state = await stateOf(sessions, id)
      assert.equal(state.c, (held.read as number) + 1, 'the next holder’s write is intact')
      assert.deepEqual(state.history, [{ fence: next.fence, worker: 'next', read: held.read }])
      assert.equal(state.other, 'keep')
      assertHistory(state)
      return result
    }

    it('a holder SIGSTOPped past its TTL is refused on resume (save when its callback returns); the next holder’s write is kept', async (t) => {
      const result = await pausedHolder('go')
      // Which safeguard caught it depends on whether the overdue renewal ran before the save:
      // no cause = the renewal saw the lease gone; StaleFenceError = the store refused the save.
      assert.ok(result.cause === null || result.cause === 'StaleFenceError', `cause ${String(result.cause)}`)
      t.diagnostic(`caught by: ${result.cause === null ? 'the lease renewal (signal aborted)' : "the store's fence check (StaleFenceError)"}`)
    })

    it('a holder SIGSTOPped past its TTL that saves at once on resume is refused by the store’s fence check (cause StaleFenceError)', async () => {
      // session.save() inside the callback goes to the store whatever the renewal knows, so
      // here it is the store's fence comparison alone that keeps the stale write out.
      const result = await pausedHolder('save')
      assert.equal(result.cause, 'StaleFenceError')
    })

    it('three workers, randomly SIGSTOPped past their TTL while holding: no lost or stale write, counter = successes', { timeout: 60_000 }, async (t) => {
      const id = await newSession(sessions)
      const workers = ['a', 'b', 'c'].map((w) => locker(id, { MODE: 'loop', WORKER: w, TTL_MS: String(TTL_MS), HOLD_MS: '15' }))
      const okCount = () => workers.reduce((n, w) => n + w.count('ok'), 0)
      // The lock is not fair (a releasing worker may take it straight back), so wait for
      // progress overall rather than for every worker.
      await until('workers to start taking the lock', async () => workers.every((w) => w.lines.length > 0) && okCount() >= 3, 20_000)
      let stoppedWhileHolding = 0
      for (let round = 0; round < 4; round++) {
        // Stop whichever worker next reports holding the lock (it is inside its callback then).
        const victim = await new Promise<Locker>((resolve) => {
          const listeners = workers.map((w) => {
            const onLine = (l: Line) => {
              if (l.kind !== 'in') return
              w.signal('SIGSTOP')
              workers.forEach((x, i) => x.off('line', listeners[i]!))
              resolve(w)
            }
            w.on('line', onLine)
            return onLine
          })
        })
        const okBefore = okCount()
        const outcomes = () => victim.count('ok') + victim.count('lost') + victim.count('timeout') + victim.count('error')
        const [lostBefore, outcomesBefore] = [victim.count('lost'), outcomes()]
        await sleep(STOPPED_MS)
        victim.signal('SIGCONT')
        // Progress: the others go on while it is stopped and after it resumes.
        await until('workers to make progress', async () => okCount() >= okBefore + 3, 20_000)
        await until('the resumed worker to finish its attempt', async () => outcomes() > outcomesBefore, 20_000)
        if (victim.count('lost') > lostBefore) stoppedWhileHolding++
      }
      for (const w of workers) w.send('stop')
      const done = await Promise.all(workers.map((w) => w.next('done')))
      await Promise.all(workers.map((w) => w.exited))

      const errors = workers.flatMap((w) => w.lines.filter((l) => l.kind === 'error'))
      assert.deepEqual(errors, [], 'no failure other than a lost lock or a wait timeout')
      const succeeded = done.reduce((n, d) => n + (d.ok as number), 0)
      const lost = done.reduce((n, d) => n + (d.lost as number), 0)
      const state = await stateOf(sessions, id)
      assertHistory(state)
      assert.equal(state.c, succeeded, 'the counter equals the critical sections reported successful')
      assert.equal(state.other, 'keep')
      t.diagnostic(`${succeeded} critical sections, ${lost} refused as LockLostError; ${stoppedWhileHolding}/4 stops lost the stopped worker its lease`)
    })

    it('a SIGKILLed holder: an immediate try fails with LockTimeoutError, a wait past its TTL succeeds, data intact', async () => {
      const id = await newSession(sessions)
      // A longer lease here, so "immediately" is certainly within it on a slow machine.
      const holder = locker(id, { MODE: 'hold', TTL_MS: '3000', WORKER: 'killed' })
      const held = await holder.next('holding')
      holder.signal('SIGKILL')
      await holder.exited
      const events: Array<{ outcome: string }> = []
      sessions.events.on('lock', (e) => events.push(e))

      let ran = false
      await assert.rejects(
        sessions.withLock(id, async () => void (ran = true), { wait: 0 }),
        (e: unknown) => e instanceof LockTimeoutError,
      )
      assert.equal(ran, false)
      const next = await sessions.withLock(id, async ({ session, fence }) => ({ fence, read: readModifyWrite(session, fence, 'next') }), { wait: '10s' })
      assert.ok(next.fence > (held.fence as number))
      assert.equal(next.read, held.read)
      assert.deepEqual(
        events.map((e) => e.outcome),
        ['timeout', 'acquired'],
      )
      const state = await stateOf(sessions, id)
      assert.deepEqual(state.history, [{ fence: next.fence, worker: 'next', read: 0 }])
      assert.equal(state.other, 'keep')
      assertHistory(state)
    })
  })
}

describeLocks('sqlite (one file, processes)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sessionmesh-locks-'))
  const path = join(dir, 'sessions.db')
  return {
    spec: `sqlite:${path}`,
    store: storeFrom(`sqlite:${path}`),
    async stop() {
      rmSync(dir, { recursive: true, force: true })
    },
  }
})

describeLocks('redis (private server, processes)', async () => {
  const redis: RedisProcess = await startRedis()
  return { spec: `redis:${redis.url}`, store: redisStore({ url: redis.url }), stop: () => redis.stop() }
})

describe('quorum locks over 3 independent Redis masters (session store on a 4th)', () => {
  let masters: RedisProcess[] = []
  let storeServer: RedisProcess
  let instances: Sessions[] = []
  before(async () => {
    ;[storeServer, ...masters] = await Promise.all([startRedis(), startRedis(), startRedis(), startRedis()])
    // Four instances, each with its own connections, as four app servers would have.
    instances = Array.from({ length: 4 }, () =>
      createSessions({
        store: redisStore({ url: storeServer.url }),
        locks: quorumLocks({ masters: masters.map((m) => ({ url: m.url })) }),
        secret: SECRET,
        sweepInterval: false,
        maxSize: 1 << 20,
      }),
    )
  })
  after(async () => {
    await Promise.all(instances.map((s) => s.close()))
    await Promise.all([storeServer, ...masters].map((r) => r.stop()))
  })

  it('contending workers stay safe and keep getting locks with one master killed; with two down none is granted and nothing changes', { timeout: 60_000 }, async (t) => {
    const first = instances[0]!
    const id = await newSession(first)
    const counts = instances.map(() => ({ ok: 0, lost: 0, timeouts: 0, other: [] as unknown[] }))
    let stop = false
    const loops = instances.map(async (sessions, i) => {
      const c = counts[i]!
      while (!stop) {
        try {
          await sessions.withLock(
            id,
            async ({ session, fence }) => {
              readModifyWrite(session, fence, `i${i}`)
              // A moment inside the lock, so the master dies while locks are held and asked for.
              await sleep(2)
            },
            { ttl: '500ms', wait: '5s' },
          )
          c.ok++
        } catch (e) {
          if (e instanceof LockLostError) c.lost++
          else if (e instanceof LockTimeoutError) c.timeouts++
          else c.other.push(e)
        }
      }
    })
    const ok = () => counts.reduce((n, c) => n + c.ok, 0)
    try {
      await until('locks granted with 3 masters', async () => ok() >= 30, 20_000)
      await masters[0]!.kill()
      const atKill = ok()
      await until('locks still granted with 1 of 3 masters dead', async () => ok() >= atKill + 30, 20_000)
      t.diagnostic(`${atKill} critical sections before the kill, ${ok() - atKill}+ after`)
    } finally {
      stop = true
      await Promise.all(loops)
    }
    assert.deepEqual(
      counts.flatMap((c) => c.other),
      [],
    )
    const state = await stateOf(first, id)
    assertHistory(state)
    assert.equal(state.c, ok(), 'the counter equals the critical sections reported successful')
    assert.equal(state.other, 'keep')

    // Two of three down: no majority, so no lease; the session is left exactly as it was.
    await masters[1]!.kill()
    let ran = false
    await assert.rejects(
      first.withLock(id, async ({ session }) => {
        ran = true
        session.set('c', -1)
      }, { wait: '1s' }),
      (e: unknown) => e instanceof LockTimeoutError,
    )
    assert.equal(ran, false)
    const after2 = await stateOf(first, id)
    assert.deepEqual(after2, state)
  })
})
