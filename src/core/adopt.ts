/**
 * Adopting an old framework's session (express-session + connect-redis, ...): the one path
 * from a legacy record to a sessionmesh session. `migrateFrom` (the manager: a new session
 * under a new id, stored when the request commits) and `sessionmesh migrate` (the CLI: a copy
 * under the old id, stored now) both call `adoptLegacy`, so they decide alike.
 *
 * The rules are the session's own because the data goes in through `Session.set` and the
 * `principal` setter. Whatever a session would refuse makes the adoption refused: an attribute
 * name that is empty or over 256 characters, a value JSON cannot encode, a principal over 256
 * characters, or more than `maxSize` bytes of names and stored (encoded, maybe sealed) values.
 * Nothing else is refused. One thing is adoption's own rule, not the session's: the old data
 * is untrusted, so keys named `__proto__`, `constructor` or `prototype` are dropped at every
 * depth, even though a session would store them as ordinary names.
 */
import { InvalidAttributeError, SessionTooLargeError } from './errors.js'
import type { LegacySession } from './legacy.js'
import type { Session } from './session.js'

/**
 * Why an old session is not adopted, as `sessionmesh migrate` counts it (its `skipped`).
 * The source decides the first two while it reads the record; `adoptLegacy` decides the rest.
 * - `unparsable`: not readable as data, or not an object;
 * - `expired`: the old framework's own expiry (express-session's `cookie.expires`) has passed;
 * - `empty`: no data besides the framework's bookkeeping (and no principal);
 * - `invalid`: data a session refuses: a bad attribute name, a value JSON cannot encode, a principal over 256 characters;
 * - `tooLarge`: over `maxSize`.
 */
export type LegacyRefusal = 'unparsable' | 'expired' | 'empty' | 'invalid' | 'tooLarge'

/** The refusals `adoptLegacy` itself makes. */
export type AdoptionRefusal = Extract<LegacyRefusal, 'empty' | 'invalid' | 'tooLarge'>

export type Adoption =
  /** The session now holds the old data; nothing is stored until it is saved (or the request commits). */
  | { session: Session }
  /** Not adopted. `error` is the session's own error for `invalid` and `tooLarge` (to report), null for `empty`. Discard the session. */
  | { refused: AdoptionRefusal; error: InvalidAttributeError | SessionTooLargeError | null }

/** Names that would reach an object's prototype if the data is ever merged into a plain object. */
const UNSAFE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype'])

/**
 * Puts an old session's data into `session` under the session's own rules. `session` must be
 * new and blank, just made for this by a manager configured as the app is (its `maxSize`,
 * timeouts and `encryption` are the rules): `migrateFrom` passes its next session, the CLI one
 * under the old id.
 *
 * Attributes whose value is `undefined` are skipped. A principal that is null, undefined or
 * `''` means none; any other value goes to the `principal` setter (so a non-string, or a
 * string over 256 characters, refuses the adoption as `invalid`).
 *
 * @example
 * const session = sessions.newBlankSession()
 * const adopted = adoptLegacy({ attributes: { user: { name: 'ann' } }, principal: 'ann' }, session)
 * if ('refused' in adopted) console.warn(adopted.refused, adopted.error?.message)
 */
export function adoptLegacy(old: Pick<LegacySession, 'attributes' | 'principal'>, session: Session): Adoption {
  const entries: Array<[string, unknown]> = []
  for (const [name, value] of Object.entries(old.attributes)) {
    if (value === undefined || UNSAFE_KEYS.has(name)) continue
    try {
      entries.push([name, withoutUnsafeKeys(value)])
    } catch (cause) {
      // A cycle, or nesting deeper than the stack (JSON could not encode either): from a custom source.
      return { refused: 'invalid', error: new InvalidAttributeError(`attribute "${name}" cannot be copied (circular or nested too deeply)`, { cause }) }
    }
  }
  const principal: unknown = old.principal
  const hasPrincipal = principal !== null && principal !== undefined && principal !== ''
  if (entries.length === 0 && !hasPrincipal) return { refused: 'empty', error: null }
  try {
    // The principal first: a session refused for it is refused whatever its size.
    if (hasPrincipal) session.principal = principal as string
    for (const [name, value] of entries) session.set(name, value)
  } catch (e) {
    if (e instanceof SessionTooLargeError) return { refused: 'tooLarge', error: e }
    if (e instanceof InvalidAttributeError) return { refused: 'invalid', error: e }
    throw e
  }
  return { session }
}

/**
 * A deep copy without `__proto__` / `constructor` / `prototype` keys, at any depth, in
 * null-prototype objects: the old data is untrusted, and an application that later merges
 * it into a plain object must not have its prototypes changed. Objects that are not plain
 * (a Date from a custom serializer, say) are kept as they are; the codec encodes them.
 */
export function withoutUnsafeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutUnsafeKeys)
  if (typeof value !== 'object' || value === null) return value
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return value
  const copy = Object.create(null) as Record<string, unknown>
  for (const key of Object.keys(value)) if (!UNSAFE_KEYS.has(key)) copy[key] = withoutUnsafeKeys((value as Record<string, unknown>)[key])
  return copy
}
