/**
 * The change bus on a Redis Stream: XADD to publish (the entry id is the event id), a
 * blocking XREAD loop on a dedicated connection per subscription. See docs/BUS.md.
 */
import { type Duration, toMs } from '../../core/duration.js'
import { ConfigurationError } from '../../core/errors.js'
import { type AnyRedis, connectRedis, loadRedis, openReader, type RedisConnection, type RedisTarget, type StreamReader, withDeadline } from '../../redis/index.js'
import { encodeEvent } from './codec.js'
import { Delivery } from './delivery.js'
import { pause } from '../../core/pause.js'
import { BusClosedError, BusGapError, BusUnavailableError } from '../../core/errors.js'
import type { BusOptions, ChangeBus, Subscription } from '../../core/bus.js'

export interface RedisStreamBusOptions extends BusOptions {
  /** Where the stream lives: a target as `redisStore` takes, or a node-redis client/cluster/sentinel you own (not closed by the bus). */
  redis: RedisTarget | AnyRedis
  /** The stream key. Default `sessionmesh:events`. */
  stream?: string
  /** About how many entries the stream keeps (XADD MAXLEN ~). Default 100,000. */
  maxLen?: number
  /** How long one XREAD blocks before it is sent again. Default 5,000 ms. */
  blockMs?: number
  /** Most entries one XREAD returns. Default 500. */
  batch?: number
  /** CLIENT SETNAME of each subscription's reader connection. Default `sessionmesh-bus`. */
  clientName?: string
  /** Longest wait for the publishing connection before `publish` fails. Default 5 s. */
  connectTimeoutMs?: number
  /**
   * Longest wait for any one reply (an XREAD's BLOCK on top). Past it a publish fails with
   * BusUnavailableError, a subscription reports it and reads on a new connection, and the
   * late connection is dropped so nothing queues behind it. Default `'2s'`.
   */
  commandTimeout?: Duration
}

/** Orders Redis stream ids (`<ms>-<seq>`); `0` reads as `0-0`. */
export function compareStreamIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-')
  const [bm = '0', bs = '0'] = b.split('-')
  const x = BigInt(am) - BigInt(bm)
  if (x !== 0n) return x < 0n ? -1 : 1
  const y = BigInt(as) - BigInt(bs)
  return y === 0n ? 0 : y < 0n ? -1 : 1
}

const STREAM_ID = /^(0|[1-9]\d{0,19})(-(0|[1-9]\d{0,19}))?$/

/** A reply field list (`[k, v, k, v]`, or a map under RESP3) as key/value pairs. */
function pairs(value: unknown): Array<[unknown, unknown]> {
  if (value instanceof Map) return [...(value as Map<unknown, unknown>).entries()]
  if (Array.isArray(value)) {
    const out: Array<[unknown, unknown]> = []
    for (let i = 0; i + 1 < value.length; i += 2) out.push([value[i], value[i + 1]])
    return out
  }
  if (typeof value === 'object' && value !== null) return Object.entries(value)
  return []
}

const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : undefined)

/** XREAD's reply for one stream as [id, body] pairs (body undefined when the entry has no `e` field). */
function entriesOf(reply: unknown): Array<[string, unknown]> {
  if (reply === null || reply === undefined) return []
  // RESP2: [[key, entries]]; RESP3: a map key -> entries. Only one stream is read.
  const perStream = Array.isArray(reply) ? (reply as unknown[]).map((r): unknown => (Array.isArray(r) ? (r as unknown[])[1] : undefined)) : pairs(reply).map(([, v]) => v)
  const out: Array<[string, unknown]> = []
  for (const entries of perStream) {
    if (!Array.isArray(entries)) continue
    for (const entry of entries as unknown[]) {
      if (!Array.isArray(entry)) continue
      const id = text(entry[0])
      if (id === undefined) continue
      const body = pairs(entry[1]).find(([k]) => text(k) === 'e')?.[1]
      out.push([id, text(body) ?? body])
    }
  }
  return out
}

/**
 * The change bus on a Redis Stream, for fleets that already run Redis (standalone, Sentinel
 * or Cluster: the stream is one key, so it lives on one shard). Publishing is one XADD that
 * also trims the stream to about `maxLen` entries; each subscription reads with a blocking
 * XREAD on its own connection, resumes from its last id after a reconnect, and reports
 * entries trimmed before it could read them as a BusGapError.
 *
 * @example
 * import { connectBus } from 'sessionmesh'
 * import { redisStreamBus } from 'sessionmesh/redis'
 * const bus = redisStreamBus({ redis: { url: 'redis://localhost:6379' } })
 * const link = connectBus(sessions.events, bus, { instanceId: process.env.HOSTNAME! })
 * sessions.events.on('destroyed', (e) => cache.drop(e.id)) // every instance's destroys
 */
export function redisStreamBus(options: RedisStreamBusOptions): ChangeBus {
  const raw = options.redis as unknown as Record<string, unknown> | null
  if (!raw || typeof raw !== 'object') throw new ConfigurationError('redisStreamBus: `redis` is required')
  const target: RedisTarget = typeof raw.sendCommand === 'function' ? { client: options.redis as AnyRedis } : (options.redis as RedisTarget)
  const stream = options.stream ?? 'sessionmesh:events'
  const maxLen = options.maxLen ?? 100_000
  const blockMs = options.blockMs ?? 5_000
  const batch = options.batch ?? 500
  const clientName = options.clientName ?? 'sessionmesh-bus'
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000
  const commandTimeoutMs = toMs(options.commandTimeout ?? '2s', 'redisStreamBus: commandTimeout')
  if (typeof stream !== 'string' || stream.length === 0) throw new ConfigurationError('redisStreamBus: `stream` must be a key name')
  for (const [name, v] of [['maxLen', maxLen], ['blockMs', blockMs], ['batch', batch], ['connectTimeoutMs', connectTimeoutMs]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new ConfigurationError(`redisStreamBus: ${name} must be a whole number >= 1`)
  }
  if (/\s/.test(clientName) || clientName.length === 0) throw new ConfigurationError('redisStreamBus: clientName must not be empty or contain spaces')
  // Fail now, naming this feature, rather than at the first publish.
  if (!('client' in target)) loadRedis('redisStreamBus')
  const onError = (e: Error) => {
    try {
      options.onError?.(e)
    } catch {
      /* a failing reporter must not break the bus */
    }
  }

  let closed = false
  const aborter = new AbortController()
  let publisher: Promise<RedisConnection> | null = null
  const subscriptions = new Set<Subscription>()

  const connection = async (): Promise<RedisConnection> => {
    if (closed) throw new BusClosedError('redisStreamBus')
    if (!publisher) {
      publisher = connectRedis(target, onError, aborter.signal, 'redisStreamBus', { commandTimeoutMs })
      // A failed first connection is retried at the next publish, not cached forever.
      publisher.catch(() => (publisher = null))
    }
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BusUnavailableError(`redis bus: no connection within ${connectTimeoutMs} ms`)), connectTimeoutMs)
    })
    try {
      return await Promise.race([publisher, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  return {
    kind: 'redis-streams',

    async publish(event) {
      const body = encodeEvent(event)
      try {
        const c = await connection()
        const id = await c.command<unknown>(stream, ['XADD', stream, 'MAXLEN', '~', String(maxLen), '*', 'e', body])
        const eventId = text(id)
        if (eventId === undefined) throw new BusUnavailableError(`redis bus: XADD answered ${String(id)}`)
        return eventId
      } catch (e) {
        if (e instanceof BusUnavailableError) throw e
        throw new BusUnavailableError(`redis bus: publish failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
      }
    },

    subscribe(handler, subscribeOptions = {}) {
      if (closed) throw new BusClosedError('redisStreamBus.subscribe')
      const from = subscribeOptions.from
      if (from !== undefined && !STREAM_ID.test(from)) throw new ConfigurationError(`redisStreamBus: from "${from}" is not a stream id`)
      const delivery = new Delivery(handler, subscribeOptions, options, compareStreamIds)
      const stop = new AbortController()
      const stopAll = () => stop.abort()
      aborter.signal.addEventListener('abort', stopAll, { once: true })
      let reader: StreamReader | null = null

      /** Opens the reader (again after a timeout dropped it); null once the subscription stops. */
      const open = async (): Promise<StreamReader | null> => {
        try {
          const opened = await openReader(target, clientName, blockMs + 10_000, (e) => {
            delivery.setStatus('disconnected')
            delivery.report(e)
          }, stop.signal)
          // Stopped while opening: close() saw no reader to destroy.
          if (stop.signal.aborted) opened.destroy()
          return stop.signal.aborted ? null : opened
        } catch (e) {
          if (!stop.signal.aborted) delivery.report(new BusUnavailableError('redis bus: cannot open the reader', { cause: e }))
          return null
        }
      }

      /**
       * Sends on the reader within the command timeout (plus the BLOCK it asks for). A late
       * reply drops the reader: the loop opens a new one rather than queue behind the dead read.
       */
      const within = <T>(r: StreamReader, args: string[], blockFor = 0): Promise<T> =>
        withDeadline(r.send<T>(stream, args), commandTimeoutMs + blockFor, args[0] ?? 'command', () => {
          r.destroy()
          if (reader === r) reader = null
        })

      const loop = async () => {
        let backoff = 0
        // After a start or an error, read without BLOCK first: it answers at once when the
        // connection is back (the status turns `connected` promptly) and drains the backlog.
        let caughtUp = false
        reader = await open()
        if (!reader) return
        while (!stop.signal.aborted) {
          try {
            const r = reader ?? (reader = await open())
            if (!r) return
            if (delivery.lastId === null) {
              // "From now" becomes a concrete id at once, so a reconnect later resumes there.
              const last = await within<unknown[] | null>(r, ['XREVRANGE', stream, '+', '-', 'COUNT', '1'])
              delivery.lastId = (Array.isArray(last) && Array.isArray(last[0]) ? text(last[0][0]) : undefined) ?? '0-0'
            } else if (!caughtUp) {
              await checkGap(r, delivery.lastId)
            }
            const position = delivery.lastId
            const args = ['XREAD', 'COUNT', String(batch), ...(caughtUp ? ['BLOCK', String(blockMs)] : []), 'STREAMS', stream, position]
            const reply = await within<unknown>(r, args, caughtUp ? blockMs : 0)
            delivery.setStatus('connected')
            backoff = 0
            const entries = entriesOf(reply)
            caughtUp = entries.length < batch
            for (const [id, body] of entries) await delivery.accept(id, body)
          } catch (e) {
            if (stop.signal.aborted) break
            delivery.setStatus('disconnected')
            delivery.report(new BusUnavailableError(`redis bus: read failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e }))
            caughtUp = false
            await pause(backoff, stop.signal)
            backoff = Math.min(Math.max(backoff * 2, 50), 1_000)
          }
        }
      }

      /**
       * Reports events trimmed before this subscription read them. Trimming removes the
       * oldest entries, so when the entry at our position is gone and the stream now starts
       * after it, what lay in between is lost (or, if the trim stopped exactly at our
       * successor, nothing was: reported all the same, as a cache flush costs little and a
       * missed gap costs stale data). Redis does not count trims in max-deleted-entry-id.
       */
      const checkGap = async (r: StreamReader, position: string) => {
        if (compareStreamIds(position, '0-0') === 0) return
        const here = await within<unknown[]>(r, ['XRANGE', stream, position, position])
        if (Array.isArray(here) && here.length > 0) return
        const head = await within<unknown[]>(r, ['XRANGE', stream, '-', '+', 'COUNT', '1'])
        const first = Array.isArray(head) && Array.isArray(head[0]) ? text((head[0] as unknown[])[0]) : undefined
        if (first !== undefined && compareStreamIds(first, position) > 0) delivery.report(new BusGapError(position, first))
      }

      const running = loop()
      const subscription = delivery.subscription(async () => {
        stop.abort()
        aborter.signal.removeEventListener('abort', stopAll)
        // Destroying the reader rejects a pending XREAD, so the loop ends without waiting out BLOCK.
        reader?.destroy()
        await running
        reader = null
        delivery.setStatus('disconnected')
        subscriptions.delete(subscription)
      })
      subscriptions.add(subscription)
      return subscription
    },

    async close() {
      if (closed) return
      closed = true
      await Promise.all([...subscriptions].map((s) => s.close()))
      aborter.abort()
      const c = await publisher?.catch(() => null)
      await c?.close()
    },
  }
}
