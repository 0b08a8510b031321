/**
 * The wire format of one event: a JSON object with a format version and only known fields.
 * Decoding is strict because anything may be written to a shared stream (another app, an
 * older or newer sessionmesh, a person with redis-cli): what does not fit is refused, and the
 * event handed to handlers is a fresh object built field by field, so a `__proto__` key in
 * the JSON stays inert data that never reaches it.
 */
import type { BusEvent, BusEventInput, BusEventType } from '../../core/bus.js'
import { MalformedEventError } from '../../core/errors.js'

const FORMAT = 1
const TYPES: ReadonlySet<string> = new Set<BusEventType>(['created', 'updated', 'destroyed', 'expired', 'revoked', 'id-changed'])
const FIELDS: ReadonlySet<string> = new Set(['v', 'type', 'id', 'principal', 'at', 'origin', 'keys', 'previousId', 'reason'])
/** Bounds on what one event may carry, so a hostile entry cannot make a subscriber allocate without limit. */
const MAX_BYTES = 256 * 1024
const MAX_ID = 1024
const MAX_KEYS = 10_000

const isText = (v: unknown, max = MAX_ID): v is string => typeof v === 'string' && v.length > 0 && v.length <= max

/** The event as the transport stores it. Throws TypeError on an event that would not decode. */
export function encodeEvent(event: BusEventInput): string {
  const out: Record<string, unknown> = {
    v: FORMAT,
    type: event.type,
    id: event.id,
    principal: event.principal,
    at: event.at,
    origin: event.origin,
  }
  if (event.keys !== undefined) out.keys = event.keys
  if (event.previousId !== undefined) out.previousId = event.previousId
  if (event.reason !== undefined) out.reason = event.reason
  const text = JSON.stringify(out)
  // Refuse at the publisher what every subscriber would skip: the mistake shows where it is made.
  const check = decodeEvent('(unpublished)', text)
  if (check instanceof MalformedEventError) throw new TypeError(`bus: cannot publish this event: ${check.reason}`)
  return text
}

/** One stored entry as a BusEvent, or the reason it is not one. Never throws. */
export function decodeEvent(eventId: string, raw: unknown): BusEvent | MalformedEventError {
  const bad = (reason: string, cause?: unknown) => new MalformedEventError(eventId, reason, cause === undefined ? undefined : { cause })
  if (typeof raw !== 'string') return bad('not text')
  if (raw.length > MAX_BYTES) return bad(`larger than ${MAX_BYTES} characters`)
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch (e) {
    return bad('not JSON', e)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return bad('not a JSON object')
  const o = parsed as Record<string, unknown>
  for (const k of Object.keys(o)) if (!FIELDS.has(k)) return bad(`unknown field ${JSON.stringify(k.slice(0, 40))}`)
  if (o.v !== FORMAT) return bad(`format ${JSON.stringify(o.v)} is not ${FORMAT}`)
  const { type, id, principal, at, origin } = o
  if (typeof type !== 'string' || !TYPES.has(type)) return bad('unknown type')
  if (!isText(id)) return bad('no session id')
  if (principal !== null && !isText(principal)) return bad('principal is neither text nor null')
  if (typeof at !== 'number' || !Number.isFinite(at)) return bad('`at` is not a time')
  if (!isText(origin)) return bad('no origin')
  const event: BusEvent = { eventId, type: type as BusEventType, id, principal, at, origin }
  if (Object.hasOwn(o, 'keys')) {
    const keys = o.keys
    if (!Array.isArray(keys) || keys.length > MAX_KEYS || !keys.every((k) => typeof k === 'string' && k.length <= MAX_ID)) {
      return bad('`keys` is not a list of names')
    }
    event.keys = [...(keys as string[])]
  } else if (type === 'updated') {
    return bad('`updated` without `keys`')
  }
  if (Object.hasOwn(o, 'previousId')) {
    if (!isText(o.previousId)) return bad('`previousId` is not an id')
    event.previousId = o.previousId
  } else if (type === 'id-changed') {
    return bad('`id-changed` without `previousId`')
  }
  if (Object.hasOwn(o, 'reason')) {
    if (!isText(o.reason, 64)) return bad('`reason` is not text')
    event.reason = o.reason
  }
  return event
}
