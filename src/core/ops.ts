import { AttributeTypeError, SessionTooLargeError } from './errors.js'
import type { AtomicChange, AttributeChange, SessionDelta } from './store.js'

/** True for the changes a store computes from what it holds. */
export function isAtomic(change: AttributeChange): change is AtomicChange {
  return change.op !== 'set' && change.op !== 'delete'
}

/**
 * The stored JSON text an atomic change leaves, given the stored text before it (undefined:
 * absent). Stores without a scripting language (memory, SQLite) run this inside their
 * transaction; the Redis scripts implement the same rules in Lua and must leave the same text
 * (test/stores/redis-lua.test.ts): the one canonical text is JSON.stringify's, so a number is
 * JavaScript's shortest round-trip text (`0.1`, `1e+21`, `1e-7`) and object keys are in
 * JavaScript's order (array indexes first, ascending).
 */
export function applyAtomic(name: string, current: string | undefined, change: AtomicChange, maxBytes?: number): string {
  let next: string
  switch (change.op) {
    case 'increment': {
      const n = current === undefined ? 0 : parseAs(name, current, 'number')
      const sum = (n as number) + change.by
      if (!Number.isFinite(sum)) throw new AttributeTypeError(name, 'number')
      next = JSON.stringify(sum)
      break
    }
    case 'append': {
      const list = current === undefined ? [] : (parseAs(name, current, 'array') as unknown[])
      list.push(JSON.parse(change.value))
      next = JSON.stringify(list)
      break
    }
    case 'merge': {
      const target = current === undefined ? {} : (parseAs(name, current, 'object') as Record<string, unknown>)
      // defineProperty, not assignment: a field named __proto__ is data, never a prototype.
      for (const [field, value] of change.fields) {
        Object.defineProperty(target, field, { value: JSON.parse(value), enumerable: true, writable: true, configurable: true })
      }
      next = JSON.stringify(target)
      break
    }
    default:
      throw new TypeError(`unknown atomic change ${JSON.stringify(change satisfies never)}`)
  }
  if (maxBytes !== undefined && Buffer.byteLength(next) > maxBytes) throw new SessionTooLargeError(Buffer.byteLength(next), maxBytes)
  return next
}

function parseAs(name: string, text: string, expected: 'number' | 'array' | 'object'): unknown {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new AttributeTypeError(name, expected)
  }
  const ok =
    expected === 'number'
      ? typeof value === 'number'
      : expected === 'array'
        ? Array.isArray(value)
        : typeof value === 'object' && value !== null && !Array.isArray(value)
  if (!ok) throw new AttributeTypeError(name, expected)
  return value
}

/** Bytes one attribute takes in a session as `maxSize` counts them: name + stored text (absent: 0). */
export function attributeBytes(name: string, stored: string | undefined): number {
  return stored === undefined ? 0 : Buffer.byteLength(name) + Buffer.byteLength(stored)
}

/** Bytes of a session's attributes as `maxSize` counts them (the same count as Session#resize). */
export function sessionBytes(attributes: ReadonlyMap<string, string>): number {
  let n = 0
  for (const [name, stored] of attributes) n += attributeBytes(name, stored)
  return n
}

/**
 * Enforces `delta.maxSessionBytes` for a store, inside its atomic step and before it writes:
 * SessionTooLargeError if the delta grows the session and leaves it over the limit. `stored`
 * reads an attribute as held before the delta, `computed` holds the atomic changes' results,
 * and `total` (the session's bytes before the delta) is only asked for when the delta grows it.
 */
export function checkSessionBytes(
  delta: SessionDelta,
  stored: (name: string) => string | undefined,
  computed: ReadonlyMap<string, string> | undefined,
  total: () => number,
): void {
  const max = delta.maxSessionBytes
  if (max === undefined) return
  let growth = 0
  for (const [name, change] of delta.attributes) {
    const next = change.op === 'set' ? change.value : change.op === 'delete' ? undefined : computed?.get(name)
    growth += attributeBytes(name, next) - attributeBytes(name, stored(name))
  }
  if (growth <= 0) return
  const after = total() + growth
  if (after > max) throw new SessionTooLargeError(after, max)
}
