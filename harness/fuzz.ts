/**
 * Seeded generators of hostile Cookie headers. Every value is something Node's HTTP parser
 * accepts in a header (HTAB, SP, visible ASCII, bytes 0x80-0xFF as latin1) and fetch will
 * send, so each request reaches the adapter. Same seed, same headers.
 */
import { Worker } from 'node:worker_threads'

/** mulberry32: small, fast, good enough to drive a fuzzer reproducibly. */
export class Rng {
  #a: number
  constructor(readonly seed: number) {
    this.#a = seed >>> 0
  }
  next(): number {
    this.#a = (this.#a + 0x6d2b79f5) >>> 0
    let t = this.#a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T
  }
  chance(p: number): boolean {
    return this.next() < p
  }
  /** Mostly short lengths, sometimes long ones up to `max`. */
  length(max: number): number {
    return this.chance(0.85) ? this.int(Math.min(max, 120) + 1) : this.int(max + 1)
  }
}

const B64URL = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_']
/** Every byte a header value may carry: HTAB, SP..~, obs-text. */
const HEADER_BYTES = [0x09, ...range(0x20, 0x7e), ...range(0x80, 0xff)].map((b) => String.fromCharCode(b))
const COOKIE_SYNTAX = [';', '=', ' ', '"', ',', '%', '.', '\t', '\\']
const PERCENT = ['%', '%%', '%0', '%G1', '%zz', '%00', '%0A', '%0D', '%FF', '%E2%82', '%C0%AF', '%ED%A0%80', '%25', '%3B', '%3D', '%2E']

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i)
}

/** A unicode string as the latin1 view of its UTF-8 bytes: what a header carries. */
export function utf8AsLatin1(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1')
}

function randomUnicode(rng: Rng, n: number): string {
  let s = ''
  for (let i = 0; i < n; i++) {
    const cp = rng.pick([
      () => 0xa0 + rng.int(0x700), // Latin/Greek/Cyrillic...
      () => 0x4e00 + rng.int(0x5000), // CJK
      () => 0x1f300 + rng.int(0x300), // emoji (astral)
      () => 0xfeff, // BOM
      () => 0x202e, // RTL override
    ])()
    s += String.fromCodePoint(cp)
  }
  return utf8AsLatin1(s)
}

function randomBytes(rng: Rng, n: number): string {
  let s = ''
  for (let i = 0; i < n; i++) s += rng.pick(HEADER_BYTES)
  return s
}

function randomCookieish(rng: Rng, n: number): string {
  let s = ''
  while (s.length < n) {
    s += rng.pick([
      () => rng.pick(COOKIE_SYNTAX),
      () => rng.pick(B64URL),
      () => rng.pick(PERCENT),
      () => randomBytes(rng, 1 + rng.int(4)),
      () => randomUnicode(rng, 1),
      () => 'sid',
    ])()
  }
  return s
}

function insertAt(s: string, at: number, text: string): string {
  return s.slice(0, at) + text + s.slice(at)
}

/** Structured mutations of a valid token / cookie. */
type Mutation = (rng: Rng, token: string, name: string) => string
const MUTATIONS: Mutation[] = [
  // a flipped character in the id, the dot or the signature
  (rng, t, n) => {
    const at = rng.int(t.length)
    return `${n}=${t.slice(0, at)}${rng.chance(0.7) ? rng.pick(B64URL) : rng.pick(HEADER_BYTES.slice(1))}${t.slice(at + 1)}`
  },
  (rng, t, n) => `${n}=${t.slice(0, rng.int(t.length))}`, // truncated
  (rng, t, n) => `${n}=${t}${randomCookieish(rng, 1 + rng.int(8))}`, // trailing junk
  (rng, t, n) => `${n}=${t.replace('.', rng.pick(['', '..', '=', ';', '%2E', ' ']))}`, // missing or odd '.'
  (rng, t, n) => rng.pick([`${n}==${t}`, `${n}=${t}=`, `${n}=${insertAt(t, rng.int(t.length), '=')}`, `${n}=${t}==x`]),
  (rng, t, n) => rng.pick([`${n}=${t}; ${n}=x`, `${n}=x; ${n}=${t}`, `${n}=${t}; ${n}=${t}`, `${n}=${t};${n}=${t.slice(1)}`]),
  (rng, t, n) => `${n}=${insertAt(t, rng.int(t.length + 1), rng.pick(PERCENT))}`, // percent-encoding garbage
  (rng, t, n) => `${n}=${[...t].map((c) => (rng.chance(0.2) ? `%${c.charCodeAt(0).toString(16)}` : c)).join('')}`,
  (rng, t, n) => `${n}=${insertAt(t, rng.int(t.length + 1), randomUnicode(rng, 1 + rng.int(4)))}`,
  (rng, t, n) => rng.pick([`${n}="${t}"`, `${n}="${t}`, `${n}=${t}"`, `${n}=" ${t} "`, `${n} = ${t}`, ` ${n}=\t${t} `]),
  (rng, t, n) => rng.pick([`${n.toUpperCase()}=${t}`, `${n}_=${t}`, `=${t}`, `${n}`, `;${n}=${t};`, `${n};=${t}`, `${n}=`]),
  // very long: the token buried in, or padded up to, ~8 KB
  (rng, t, n) => `${n}=${t}${'A'.repeat(rng.int(8000))}`,
  (rng, t, n) => {
    const parts = Array.from({ length: 1 + rng.int(200) }, (_, i) => `c${i}=${randomCookieish(rng, rng.int(30))}`)
    parts.splice(rng.int(parts.length + 1), 0, `${n}=${t}`)
    return parts.join(rng.pick(['; ', ';', ', ', ';;']))
  },
]

/**
 * A hostile Cookie header: random bytes, random cookie-like syntax, or 1-3 mutations of
 * `cookie` (a valid `name=token`). At most ~8 KB.
 */
export function hostileCookie(rng: Rng, cookie: string): string {
  const eq = cookie.indexOf('=')
  const name = cookie.slice(0, eq)
  const token = cookie.slice(eq + 1)
  let out: string
  const kind = rng.int(10)
  if (kind === 0) out = randomBytes(rng, rng.length(8000))
  else if (kind === 1) out = randomCookieish(rng, rng.length(8000))
  else if (kind === 2) out = `${name}=${randomCookieish(rng, rng.length(400))}`
  else {
    out = rng.pick(MUTATIONS)(rng, token, name)
    for (let extra = rng.int(3); extra > 0; extra--) {
      const e = out.indexOf('=')
      out = e > 0 ? rng.pick(MUTATIONS)(rng, out.slice(e + 1), out.slice(0, e)) : out
    }
  }
  return out.length > 8192 ? out.slice(0, 8192) : out
}

/**
 * Several cookies of the session's name in one header, the valid one among garbage: the
 * first that verifies must win, so the answer is the valid session's (`holdsValid`). Sometimes
 * only garbage of the name (then: no session, never an error).
 */
export function duplicateCookies(rng: Rng, cookie: string): { header: string; holdsValid: boolean } {
  const name = cookie.slice(0, cookie.indexOf('='))
  // One cookie-pair each (no ';'), short: at most 4 stand before the valid one, under the
  // 8 candidates a request's cookies are tried up to, and the header is never cut.
  const junk = () =>
    (rng.int(2) === 0 ? `${name}=${randomCookieish(rng, rng.length(200))}` : hostileCookie(rng, cookie).slice(0, 300)).replaceAll(';', ',')
  const before = Array.from({ length: rng.int(4) + 1 }, junk)
  const after = Array.from({ length: rng.int(2) }, junk)
  const holdsValid = rng.int(5) !== 0
  return { header: [...before, ...(holdsValid ? [cookie] : []), ...after].join('; '), holdsValid }
}

/** Origin / Sec-Fetch-Site / Host as a browser, a forger or garbage would send them, for unsafe requests. */
export function hostileFetchMetadata(rng: Rng, ownOrigin: string): Record<string, string> {
  const origins = [ownOrigin, 'null', 'http://evil.example', `${ownOrigin}.evil.example`, ownOrigin.replace('127.0.0.1', 'localhost'), randomCookieish(rng, rng.length(100))]
  const sites = ['same-origin', 'same-site', 'cross-site', 'none', randomCookieish(rng, rng.length(30))]
  const out: Record<string, string> = {}
  const kind = rng.int(4)
  if (kind !== 1) out.origin = rng.pick(origins)
  if (kind !== 0) out['sec-fetch-site'] = rng.pick(sites)
  if (rng.int(4) === 0) out['x-forwarded-host'] = rng.pick(['evil.example', randomCookieish(rng, rng.length(40))])
  return out
}

/** One fuzz request. */
export interface FuzzCase {
  method: string
  path: string
  headers: Record<string, string>
  /** Also acceptable: 403 with the JSON code CSRF (a cross-origin unsafe request refused). */
  csrfRefusalAllowed?: boolean
  /** The answer's body must contain this (e.g. the valid session's value). */
  bodyIncludes?: string
}

/**
 * Sends `cases` to `url` from a worker thread (./fuzz-client.ts) with at most `limit` in
 * flight; resolves with a line per answer that was not a 200 whose Set-Cookie lines (if
 * any) match `cookieShape`, or per request that failed.
 */
export function sendFromWorker(url: string, cases: FuzzCase[], limit: number, cookieShape: RegExp): Promise<string[]> {
  return new Promise((resolve, reject) => {
    // Workers do not inherit tsx's loader: register it, then load the TypeScript entry.
    const entry = JSON.stringify(new URL('./fuzz-client.ts', import.meta.url).href)
    const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${entry}) })`
    const worker = new Worker(boot, { eval: true, workerData: { url, cases, limit, cookieShape: cookieShape.source } })
    let result: string[] | undefined
    worker.once('message', (failures: string[]) => (result = failures))
    worker.once('error', reject)
    worker.once('exit', (code) => (result ? resolve(result) : reject(new Error(`fuzz client exited with ${code}`))))
  })
}
