// The named benchmark scenarios: which servers, which request, what a correct answer is.
import { login, request, VerificationError } from './lib/load.js'

export interface Target {
  /** Shown in tables; also the server file bench/servers/<server>.ts. */
  name: string
  server: string
  /** Needs a session cookie (obtained via POST /login; see Scenario.sessions). */
  session: boolean
  /** Keeps sessions in the runner's private redis-server (BENCH_REDIS_URL); its store round trips are counted. */
  store?: 'redis'
  /** GET this path after the run for the server's own figures (recorded in the results). */
  statsPath?: string
  /** Extra environment for this target's server (a baseline build's SESSIONMESH_ROOT and key prefix). */
  env?: Record<string, string>
}

/**
 * `scenario` with every sessionmesh target measured twice: from this tree and from the build
 * of git revision `rev` at `root` (its own Redis key prefix, so the two never share a change
 * feed), and a ratio of each pair: this tree / the baseline.
 */
export function withBaseline(scenario: Scenario, rev: string, root: string): Scenario {
  const ours = scenario.targets.filter((t) => t.server.startsWith('sessionmesh'))
  const baselines = ours.map((t) => ({ ...t, name: `${t.name} @${rev}`, env: { SESSIONMESH_ROOT: root, BENCH_PREFIX: `bench-baseline-${t.server}:` } }))
  return {
    ...scenario,
    targets: [...scenario.targets, ...baselines],
    ratios: [...scenario.ratios, ...ours.map((t, i) => ({ numerator: t.name, denominator: (baselines[i] as Target).name }))],
  }
}

export interface Ratio {
  numerator: string
  denominator: string
  /** Printed beside the figure, never asserted. */
  goal?: number
}

export interface Scenario {
  name: string
  title: string
  description: string
  method: 'GET' | 'POST'
  path: string
  targets: Target[]
  ratios: Ratio[]
  /**
   * 'shared' (default): one POST /login, every connection sends its cookie. 'per-connection':
   * one login per connection, so each connection is one user with its own session for the whole run.
   */
  sessions?: 'shared' | 'per-connection'
  /** Every response body under load must pass this. */
  verifyBody(body: string): boolean
  /** Run once per target before measuring (with the first cookie): proves the route works and the session is used. */
  check(origin: string, cookie: string | undefined): Promise<void>
}

const targets: Target[] = [
  { name: 'bare express', server: 'bare', session: false },
  { name: 'express-session', server: 'express-session', session: true },
  { name: 'sessionmesh', server: 'sessionmesh', session: true },
]

/** Express + session middleware against one shared private Redis (each with its own key prefix). */
const redisTargets: Target[] = [
  { name: 'bare express', server: 'bare', session: false },
  { name: 'express-session + connect-redis', server: 'connect-redis', session: true, store: 'redis' },
  { name: 'sessionmesh (redis)', server: 'sessionmesh-redis', session: true, store: 'redis' },
]

/** Fastify 5: no session, @fastify/session (+ @fastify/cookie, its MemoryStore), sessionmesh's Fastify plugin on its memory store. */
const fastifyTargets: Target[] = [
  { name: 'bare fastify', server: 'fastify-bare', session: false },
  { name: '@fastify/session', server: 'fastify-session', session: true },
  { name: 'sessionmesh (fastify)', server: 'sessionmesh-fastify', session: true },
]

function expect(ok: boolean, what: string): void {
  if (!ok) throw new VerificationError(what)
}

const READ_BODY = JSON.stringify({ user: 'alice' })
const isReadBody = (body: string) => body === READ_BODY
const isCountBody = (body: string) => /^\{"n":\d+\}$/.test(body)

/** `GET /` answers the session's user with the cookie, 401 without. */
async function checkRead(origin: string, cookie: string | undefined): Promise<void> {
  const r = await request(origin, 'GET', '/', cookie)
  expect(r.status === 200 && r.body === READ_BODY, `${origin}: GET / answered ${r.status} ${r.body}`)
  if (cookie) {
    const anon = await request(origin, 'GET', '/')
    expect(anon.status === 401, `${origin}: GET / without a cookie answered ${anon.status}, expected 401`)
  }
}

/** Two `POST /incr` in a row count up by one: the write was kept. */
async function checkWrite(origin: string, cookie: string | undefined): Promise<void> {
  const n = async () => {
    const r = await request(origin, 'POST', '/incr', cookie)
    expect(r.status === 200, `${origin}: POST /incr answered ${r.status} ${r.body}`)
    return (JSON.parse(r.body) as { n: number }).n
  }
  const first = await n()
  const second = await n()
  expect(second === first + 1, `${origin}: counter went ${first} -> ${second}, the write was not kept`)
}

/** Redis targets plus sessionmesh with the change bus and near cache (on the same Redis). */
const nearCacheTargets: Target[] = [
  ...redisTargets,
  { name: 'sessionmesh (redis + near cache)', server: 'sessionmesh-nearcache', session: true, store: 'redis', statsPath: '/__nearcache' },
]

export const scenarios: Scenario[] = [
  {
    name: 'express-readonly',
    title: 'Read-only session request (Express 5)',
    description:
      '`GET /` with a valid session cookie; the handler reads `req.session.user` and returns it as JSON. Nothing in the session changes.',
    method: 'GET',
    path: '/',
    targets,
    ratios: [
      { numerator: 'sessionmesh', denominator: 'bare express', goal: 0.85 },
      { numerator: 'sessionmesh', denominator: 'express-session', goal: 1.6 },
    ],
    verifyBody: isReadBody,
    check: checkRead,
  },
  {
    name: 'express-write',
    title: 'Session write per request (Express 5)',
    description:
      '`POST /incr` with a valid session cookie; the handler increments `req.session.n` and returns it, so every request saves the session (bare Express counts in a variable). All connections share one session.',
    method: 'POST',
    path: '/incr',
    targets,
    ratios: [
      { numerator: 'sessionmesh', denominator: 'bare express' },
      { numerator: 'sessionmesh', denominator: 'express-session' },
    ],
    verifyBody: isCountBody,
    check: checkWrite,
  },
  {
    name: 'redis-readonly',
    title: 'Read-only session request, sessions in Redis (Express 5)',
    description:
      '`GET /` with a valid session cookie, sessions in one private redis-server shared by both session servers (each with its own key prefix): express-session + connect-redis 9 against sessionmesh\'s Redis store (no near cache). The handler reads `req.session.user`; nothing changes.',
    method: 'GET',
    path: '/',
    targets: redisTargets,
    ratios: [
      { numerator: 'sessionmesh (redis)', denominator: 'express-session + connect-redis', goal: 1.25 },
      { numerator: 'sessionmesh (redis)', denominator: 'bare express' },
    ],
    verifyBody: isReadBody,
    check: checkRead,
  },
  {
    name: 'redis-write',
    title: 'Session write per request, sessions in Redis (Express 5)',
    description:
      '`POST /incr` with a valid session cookie, sessions in one private redis-server shared by both session servers (each with its own key prefix): every request increments `req.session.n` and saves the session. All connections share one session.',
    method: 'POST',
    path: '/incr',
    targets: redisTargets,
    ratios: [
      { numerator: 'sessionmesh (redis)', denominator: 'express-session + connect-redis', goal: 1.15 },
      { numerator: 'sessionmesh (redis)', denominator: 'bare express' },
    ],
    verifyBody: isCountBody,
    check: checkWrite,
  },
  {
    name: 'fastify-readonly',
    title: 'Read-only session request (Fastify 5)',
    description:
      '`GET /` with a valid session cookie on Fastify 5; the handler reads the session\'s `user` and returns it. Nothing in the session changes (but @fastify/session, at its default `rolling: true`, saves the session and re-sends the cookie on every request).',
    method: 'GET',
    path: '/',
    targets: fastifyTargets,
    ratios: [
      { numerator: 'sessionmesh (fastify)', denominator: 'bare fastify' },
      { numerator: 'sessionmesh (fastify)', denominator: '@fastify/session' },
    ],
    verifyBody: isReadBody,
    check: checkRead,
  },
  {
    name: 'fastify-write',
    title: 'Session write per request (Fastify 5)',
    description:
      '`POST /incr` with a valid session cookie on Fastify 5; the handler increments the session\'s `n` and returns it, so every request saves the session (bare Fastify counts in a variable). All connections share one session.',
    method: 'POST',
    path: '/incr',
    targets: fastifyTargets,
    ratios: [
      { numerator: 'sessionmesh (fastify)', denominator: 'bare fastify' },
      { numerator: 'sessionmesh (fastify)', denominator: '@fastify/session' },
    ],
    verifyBody: isCountBody,
    check: checkWrite,
  },
  {
    name: 'nearcache-readonly',
    title: 'Read-only session request, sessions in Redis, with the near cache (Express 5)',
    description:
      '`GET /` with a valid session cookie; sessions in one private redis-server. sessionmesh with `nearCache` (kept coherent by the Redis store\'s change feed, no bus) serves the session from its process after the first read (zero store round trips on a hit), next to sessionmesh without the cache, express-session + connect-redis 9 and bare Express.',
    method: 'GET',
    path: '/',
    targets: nearCacheTargets,
    ratios: [
      { numerator: 'sessionmesh (redis + near cache)', denominator: 'bare express', goal: 0.9 },
      { numerator: 'sessionmesh (redis + near cache)', denominator: 'express-session + connect-redis', goal: 1.45 },
      { numerator: 'sessionmesh (redis + near cache)', denominator: 'sessionmesh (redis)' },
    ],
    verifyBody: isReadBody,
    check: checkRead,
  },
  {
    name: 'nearcache-write',
    title: 'Session write per request, sessions in Redis, with the near cache (Express 5)',
    description:
      '`POST /incr` with per-connection sessions: each connection logs in once and is one user with its own session, so every request is a read-modify-write of that session\'s `n` (bare Express counts in a variable). Sessions in one private redis-server; sessionmesh with `nearCache` (kept coherent by the Redis store\'s change feed, no bus) next to sessionmesh without the cache, express-session + connect-redis 9 and bare Express. The aim for the near cache: load the session from its process and spend one store round trip per request, the save. (One session shared by all connections is not the shape to measure here: with the near cache, concurrent read-then-write on one session is refused with 409 by design, as the cached copy a writer read is stale.)',
    method: 'POST',
    path: '/incr',
    targets: nearCacheTargets,
    sessions: 'per-connection',
    ratios: [
      { numerator: 'sessionmesh (redis + near cache)', denominator: 'express-session + connect-redis', goal: 1.3 },
      { numerator: 'sessionmesh (redis + near cache)', denominator: 'bare express' },
      { numerator: 'sessionmesh (redis + near cache)', denominator: 'sessionmesh (redis)' },
    ],
    verifyBody: isCountBody,
    check: checkWrite,
  },
]

/** Logins in flight at once when each connection gets its own session. */
const LOGIN_PARALLELISM = 10

/** Logs in as the scenario needs and checks the target; returns the cookies its connections send in turn (none without a session). */
export async function prepareTarget(scenario: Scenario, target: Target, origin: string, connections: number): Promise<string[]> {
  // Per connection: twice as many as connections, so consecutive windows use different ones (see measure()).
  const wanted = !target.session ? 0 : scenario.sessions === 'per-connection' ? 2 * connections : 1
  const cookies: string[] = []
  while (cookies.length < wanted) {
    const batch = Math.min(LOGIN_PARALLELISM, wanted - cookies.length)
    cookies.push(...(await Promise.all(Array.from({ length: batch }, () => login(origin)))))
  }
  await scenario.check(origin, cookies[0])
  return cookies
}
