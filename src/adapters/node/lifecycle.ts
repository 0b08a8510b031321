import { type IncomingMessage, ServerResponse } from 'node:http'
import { failureResponse } from '../../core/failure.js'
import type { Sessions } from '../../core/manager.js'
import type { RequestInfo, RequestSession } from '../../core/request.js'

/**
 * RequestInfo over a node:http request. Reads `rawHeaders`: node builds `req.headers` lazily
 * on first access, and a framework that never reads it (Express routing a GET) would
 * otherwise pay for it on our account. `encrypted` is worked out only when asked (a cookie is
 * being written); with `frameworkSecure`, the framework's `req.secure` (Express's honours its
 * `trust proxy` setting) counts too. A class, not a literal with closures: one per request.
 */
class NodeRequestInfo implements RequestInfo {
  #encrypted: boolean | undefined
  constructor(
    private readonly req: IncomingMessage,
    private readonly frameworkSecure: boolean,
  ) {}

  header(name: string): string | undefined {
    return rawHeader(this.req.rawHeaders, name)
  }

  get method(): string | undefined {
    return this.req.method
  }

  get encrypted(): boolean {
    this.#encrypted ??=
      Boolean((this.req.socket as { encrypted?: boolean }).encrypted) || (this.frameworkSecure && Boolean((this.req as { secure?: boolean }).secure))
    return this.#encrypted
  }

  set encrypted(value: boolean) {
    this.#encrypted = value
  }
}

export function nodeRequestInfo(req: IncomingMessage, frameworkSecure = false): RequestInfo {
  return new NodeRequestInfo(req, frameworkSecure)
}

/** A header by lower-case name from node's flat [name, value, ...] list; repeats joined as node joins them. */
function rawHeader(raw: string[], name: string): string | undefined {
  let found: string | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const key = raw[i] as string
    if (key.length !== name.length || key.toLowerCase() !== name) continue
    const value = raw[i + 1] as string
    found = found === undefined ? value : `${found}${name === 'cookie' ? '; ' : ', '}${value}`
  }
  return found
}

/** Sends the session layer's failure answer (503 when the store is down). */
export function sendFailure(res: ServerResponse, error: unknown): void {
  const f = failureResponse(error)
  if (res.headersSent) {
    res.destroy(error instanceof Error ? error : undefined)
    return
  }
  res.writeHead(f.status, f.headers).end(f.body)
}

type Fn<R> = (...a: unknown[]) => R

/** One response's hold on its session; the patched methods below are shared, not per request. */
interface Originals {
  end: Fn<ServerResponse>
  writeHead: Fn<ServerResponse>
  write: Fn<boolean>
  flushHeaders: () => void
}
interface Hold {
  sessions: Sessions
  rs: RequestSession
  /** The methods found on the response (or its prototype) before ours. */
  o: Originals
  headersAdded: boolean
  /** The real head may go out: the save is done, or the handler streams. */
  sending: boolean
  ending: boolean
}
const kHold = Symbol('sessionmesh.hold')
type HeldResponse = ServerResponse & { [kHold]: Hold }

function addHeaders(res: HeldResponse, h: Hold): void {
  if (h.headersAdded || res.headersSent) return
  h.headersAdded = true
  for (const [name, value] of h.rs.responseHeaders()) res.appendHeader(name, value)
}

function startSending(res: HeldResponse, h: Hold): void {
  h.sending = true
  addHeaders(res, h)
}

function fail(res: HeldResponse, h: Hold, error: unknown, args: unknown[]): void {
  h.sessions.events.reportError(error as Error)
  h.sending = true
  if (res.headersSent) {
    h.o.end.apply(res, args)
    return
  }
  const f = failureResponse(error)
  for (const name of res.getHeaderNames()) res.removeHeader(name)
  h.headersAdded = true
  res.statusMessage = '' // a reason held from the handler's writeHead is not this answer's
  h.o.writeHead.call(res, f.status, f.headers)
  h.o.end.call(res, f.body)
}

function heldWriteHead(this: HeldResponse, ...args: unknown[]): ServerResponse {
  const h = this[kHold]
  if (h.sending || this.headersSent || !holdHead(this, args)) {
    addHeaders(this, h)
    return h.o.writeHead.apply(this, args)
  }
  return this
}

function heldWrite(this: HeldResponse, ...args: unknown[]): boolean {
  const h = this[kHold]
  if (!this.headersSent) startSending(this, h)
  return h.o.write.apply(this, args)
}

function heldFlushHeaders(this: HeldResponse): void {
  const h = this[kHold]
  startSending(this, h)
  h.o.flushHeaders.call(this)
}

function heldEnd(this: HeldResponse, ...args: unknown[]): ServerResponse {
  const h = this[kHold]
  // A second `end` while the first waits for the save changes nothing (as on an ended response).
  if (h.ending) return this
  h.ending = true
  if (h.rs.commitIfIdle()) {
    startSending(this, h)
    return h.o.end.apply(this, args)
  }
  h.rs.commit().then(
    () => {
      try {
        startSending(this, h)
      } catch (error) {
        return fail(this, h, error, args) // the session headers could not be made (a cookie option serialize refuses)
      }
      h.o.end.apply(this, args)
    },
    (error: unknown) => fail(this, h, error, args),
  )
  return this
}

/**
 * Makes `res.end` wait for the session commit, so nothing the handler sends (a redirect
 * above all) reaches the client before the save is done, and adds the session headers.
 * `writeHead` only records the status and headers until the response is really sent, so
 * `res.writeHead(302, { location }).end()` still gets the cookie of a session created by
 * this request. A handler that streams (write before end) gets its headers when the first
 * chunk goes out; its last chunk still waits for the save.
 *
 * The replacement methods are module-level functions reading a per-response `Hold`: this is
 * on every request's path, and a dozen fresh closures per request cost more than the rest of
 * the adapter. The methods found on `res` are kept and called, so middleware that wrapped
 * them first still runs.
 */
export function commitBeforeEnd(sessions: Sessions, rs: RequestSession, res: ServerResponse): void {
  const viaPrototype = prototypeHooks(res)
  ;(res as HeldResponse)[kHold] = { sessions, rs, o: viaPrototype ?? instanceOriginals(res), headersAdded: false, sending: false, ending: false }
  if (!viaPrototype) {
    res.end = heldEnd as typeof res.end
    res.writeHead = heldWriteHead
    res.write = heldWrite as typeof res.write
    res.flushHeaders = heldFlushHeaders
  }
}

/** Whether `end` has been called on a response `commitBeforeEnd` holds (it is then on its way). */
export function responseEnding(res: ServerResponse): boolean {
  return (res as Partial<HeldResponse>)[kHold]?.ending ?? false
}

/** The request session `commitBeforeEnd` attached to this response, if any. */
export function heldSession(res: ServerResponse | undefined): RequestSession | undefined {
  return (res as Partial<HeldResponse> | undefined)?.[kHold]?.rs
}

/**
 * The prototype of `obj` that sits directly on `root` (node's own): Express's shared
 * request/response object, from which every app's (and mounted sub-app's) inherit. `root`
 * itself when `obj` is a plain node object.
 */
export function basePrototype(obj: object, root: object): object {
  let proto = Object.getPrototypeOf(obj) as object | null
  while (proto && proto !== root) {
    const up = Object.getPrototypeOf(proto) as object | null
    if (up === root) return proto
    proto = up
  }
  return root
}

const hooked = new WeakMap<object, Originals>()

/* eslint-disable @typescript-eslint/unbound-method -- kept unbound on purpose, always called with the response as this */
function instanceOriginals(res: ServerResponse): Originals {
  return {
    end: res.end as Fn<ServerResponse>,
    writeHead: res.writeHead as Fn<ServerResponse>,
    write: res.write as Fn<boolean>,
    flushHeaders: res.flushHeaders,
  }
}

/**
 * Hooking Express's shared response prototype once (instead of assigning four methods to
 * every response, which makes V8 reshape each response object) is most of the adapter's
 * saving on the hot path. Responses without a hold pass straight through, so other apps in
 * the process are unaffected. Not done for node's own ServerResponse.prototype, which every
 * server shares, nor when a middleware has already put its own `end` (or the others) on
 * this response.
 */
function prototypeHooks(res: ServerResponse): Originals | null {
  const proto = basePrototype(res, ServerResponse.prototype) as Record<string, unknown>
  if (proto === (ServerResponse.prototype as object)) return null
  if (Object.hasOwn(res, 'end') || Object.hasOwn(res, 'writeHead') || Object.hasOwn(res, 'write') || Object.hasOwn(res, 'flushHeaders')) return null
  const known = hooked.get(proto)
  if (known) return known
  const originals = instanceOriginals(res)
  const passThrough =
    <R>(held: Fn<R>, original: Fn<R>) =>
    function (this: HeldResponse, ...args: unknown[]): R {
      return (this[kHold] ? held : original).apply(this, args)
    }
  proto.end = passThrough(heldEnd, originals.end)
  proto.writeHead = passThrough(heldWriteHead, originals.writeHead)
  proto.write = passThrough(heldWrite, originals.write)
  proto.flushHeaders = passThrough(heldFlushHeaders, originals.flushHeaders as Fn<void>)
  hooked.set(proto, originals)
  return originals
}
/* eslint-enable @typescript-eslint/unbound-method */

/**
 * Applies `writeHead(status[, reason][, headers])` to the response without sending it.
 * False (nothing done) for arguments only the real writeHead should judge (it throws).
 */
function holdHead(res: ServerResponse, args: unknown[]): boolean {
  const [status, second, third] = args
  const reason = typeof second === 'string' ? second : undefined
  const headers = typeof second === 'string' ? third : second
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 999) return false
  if (headers !== undefined && headers !== null && typeof headers !== 'object') return false
  if (Array.isArray(headers)) {
    const pairs = headers.length > 0 && Array.isArray(headers[0]) ? (headers as unknown[][]) : chunk(headers)
    if (!pairs) return false
    for (const [name, value] of pairs) res.appendHeader(String(name), value as string | string[])
  } else if (headers) {
    for (const [name, value] of Object.entries(headers)) if (value !== undefined) res.setHeader(name, value as string)
  }
  res.statusCode = status
  if (reason !== undefined) res.statusMessage = reason
  return true
}

/** [k1, v1, k2, v2] as [[k1, v1], [k2, v2]]; null if the length is odd. */
function chunk(flat: unknown[]): unknown[][] | null {
  if (flat.length % 2 !== 0) return null
  const out: unknown[][] = []
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i], flat[i + 1]])
  return out
}
