import { AttributeTypeError, SessionTooLargeError } from './errors.js'
import type { AtomicChange, AttributeChange } from './store.js'

/** True for the changes a store computes from what it holds. */
export function isAtomic(change: AttributeChange): change is AtomicChange {
  return change.op !== 'set' && change.op !== 'delete'
}

/**
 * The stored JSON text an atomic change leaves, given the stored text before it (undefined:
 * absent). Stores without a scripting language (memory, SQLite) run this inside their
 * transaction; the Redis scripts implement the same rules in Lua.
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
