// One autocannon measurement, in the runner process, with checks that make a broken server
// fail loudly instead of producing a fast number.
import autocannon from 'autocannon'
import { processCpuMs } from './cpu.js'

export interface LoadSpec {
  origin: string
  method: 'GET' | 'POST'
  path: string
  headers: Record<string, string>
  /** Session cookies, sent in turn: connection i sends cookies[i % length] for its whole life. */
  cookies?: string[]
  connections: number
  pipelining: number
  /** Seconds. */
  duration: number
  /** Send exactly this many requests instead of loading for `duration` (counting windows). */
  amount?: number
  /** Every response body must pass this (autocannon counts failures as mismatches). */
  verifyBody: (body: string) => boolean
  /** The server's pid, to measure its CPU time per request. */
  pid?: number | undefined
}

export interface Measurement {
  requests: number
  /** Completed requests per second over the whole measurement. */
  rps: number
  /** Latency percentiles in ms. */
  p50: number
  p99: number
  /** Server CPU time (user + system, all threads) per request, in µs; null where unmeasurable. */
  cpuUs: number | null
  /**
   * Share (0–1) of the machine's CPU that processes other than the benchmark's own (runner,
   * server, redis-server) used during the window; null where unmeasurable (set by the runner).
   */
  othersCpu?: number | null
  /** The load generator's (this runner's) CPU time per request, in µs (set by the runner). */
  loadCpuUs?: number
  /** Targets with a Redis store: what Redis did during this window (set by the runner). */
  store?: StoreWindow
}

export interface StoreWindow {
  /** Commands Redis executed per request (INFO total_commands_processed), Lua-internal calls included. */
  commandsPerRequest: number
  /** redis-server CPU time per request, in µs; null where unmeasurable. */
  cpuUs: number | null
}

export class VerificationError extends Error {}

let windows = 0

export async function measure(spec: LoadSpec): Promise<Measurement> {
  const { cookies = [] } = spec
  // setupClient runs once per connection and a connection keeps its request across reconnects,
  // so each connection sends its one cookie for the whole window. Consecutive windows start
  // at different cookies: a request the previous window abandoned may still be running on
  // the server, and must not overlap a new one on the same session.
  let connection = (windows++ * spec.connections) % Math.max(1, cookies.length)
  const setupClient = (client: autocannon.Client): void => {
    client.setHeaders({ ...spec.headers, cookie: cookies[connection++ % cookies.length] })
  }
  const cpuBefore = processCpuMs(spec.pid)
  const result = await autocannon({
    url: spec.origin + spec.path,
    method: spec.method,
    headers: spec.headers,
    ...(cookies.length ? { setupClient } : {}),
    connections: spec.connections,
    pipelining: spec.pipelining,
    duration: spec.duration,
    ...(spec.amount === undefined ? {} : { amount: spec.amount }),
    // autocannon accumulates each body as a string; the check itself is what it costs.
    verifyBody: (body) => spec.verifyBody(typeof body === 'string' ? body : String(body ?? '')),
  })
  const cpuAfter = processCpuMs(spec.pid)
  const requests = result.requests.total
  const problems: string[] = []
  if (requests === 0) problems.push('no responses')
  if (result.non2xx > 0) problems.push(`${result.non2xx} non-2xx responses`)
  if (result.mismatches > 0) problems.push(`${result.mismatches} responses with an unexpected body`)
  if (result.errors > 0) problems.push(`${result.errors} connection errors (${result.timeouts} timeouts)`)
  if (problems.length) {
    throw new VerificationError(`${spec.method} ${spec.origin}${spec.path}: ${problems.join(', ')} out of ${requests}`)
  }
  return {
    requests,
    rps: requests / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuUs: cpuBefore === null || cpuAfter === null || requests === 0 ? null : ((cpuAfter - cpuBefore) * 1000) / requests,
  }
}

/** A single request through fetch: the login step and before/after spot checks. */
export async function request(
  origin: string,
  method: 'GET' | 'POST',
  path: string,
  cookie?: string,
): Promise<{ status: number; body: string; setCookie: string | null }> {
  const res = await fetch(origin + path, { method, headers: cookie ? { cookie } : {} })
  return { status: res.status, body: await res.text(), setCookie: res.headers.get('set-cookie') }
}

/** Logs in once and returns the `name=value` cookie pair to send. */
export async function login(origin: string): Promise<string> {
  const r = await request(origin, 'POST', '/login')
  if (r.status !== 200) throw new VerificationError(`${origin}/login answered ${r.status}: ${r.body}`)
  const pair = r.setCookie?.split(';')[0]
  if (!pair) throw new VerificationError(`${origin}/login set no cookie`)
  return pair
}
