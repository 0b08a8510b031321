/**
 * A session as the fields of its Redis hash, and an attribute change as the APPLY script's
 * op/name/value triple. Meta fields: `#c` created, `#l` last access, `#i` id issued, `#it`
 * idle ms, `#at` absolute ms, `#e` expiresAt, `#p` principal (absent: none), `#v` version,
 * `#f` fence; attributes `a:<name>` (names are binary-safe fields, so `__proto__` is data).
 */
import type { AttributeChange, StoredSession } from '../../core/store.js'

const META = new Set(['#c', '#l', '#i', '#it', '#at', '#e', '#p', '#v', '#f'])

/** A session hash (HGETALL's flat field/value list) as a StoredSession without its id. */
export function decodeHash(flat: readonly string[]): Omit<StoredSession, 'id'> {
  const attributes = new Map<string, string>()
  const meta: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const field = flat[i] as string
    const value = flat[i + 1] as string
    if (field.startsWith('a:')) attributes.set(field.slice(2), value)
    else if (META.has(field)) meta[field] = value
  }
  const n = (f: string) => Number(meta[f] ?? 0)
  return {
    attributes,
    createdAt: n('#c'),
    lastAccessedAt: n('#l'),
    idIssuedAt: n('#i'),
    idleTimeoutMs: n('#it'),
    absoluteTimeoutMs: n('#at'),
    expiresAt: n('#e'),
    principal: meta['#p'] ?? null,
    version: n('#v'),
    fence: n('#f'),
  }
}

/** A StoredSession as the hash's field/value list. */
export function encodeHash(s: StoredSession): string[] {
  const out = [
    '#c', String(s.createdAt),
    '#l', String(s.lastAccessedAt),
    '#i', String(s.idIssuedAt),
    '#it', String(s.idleTimeoutMs),
    '#at', String(s.absoluteTimeoutMs),
    '#e', String(s.expiresAt),
    '#v', String(s.version),
    '#f', String(s.fence),
  ]
  if (s.principal !== null) out.push('#p', s.principal)
  for (const [name, value] of s.attributes) out.push(`a:${name}`, value)
  return out
}

/** The score of a session in its principal's index: its absolute deadline. */
export const deadlineOf = (s: { createdAt: number; absoluteTimeoutMs: number }) => String(s.createdAt + s.absoluteTimeoutMs)

/** One attribute change as the APPLY script's op/name/value triple. */
export function changeArgs(name: string, change: AttributeChange): [string, string, string] {
  switch (change.op) {
    case 'set':
      return ['s', name, change.value]
    case 'delete':
      return ['d', name, '']
    case 'increment':
      return ['i', name, String(change.by)]
    case 'append':
      return ['a', name, change.value]
    case 'merge':
      // The fields as one JSON object text, which the script splits like a stored object.
      return ['m', name, `{${change.fields.map(([f, v]) => `${JSON.stringify(f)}:${v}`).join(',')}}`]
    default:
      throw new TypeError(`redis store: unknown attribute change ${JSON.stringify(change satisfies never)}`)
  }
}
