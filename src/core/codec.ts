import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto'
import { ConfigurationError, InvalidAttributeError, SessionDataError } from './errors.js'

/**
 * Turns attribute values into the strings a store keeps, and back: JSON, optionally sealed
 * with AES-256-GCM. Each attribute is sealed on its own, which keeps delta saves working
 * with encryption on. The additional authenticated data is the session's binding (a random
 * value kept with the session across id changes, see BINDING_ATTRIBUTE in session.ts) and
 * the attribute name: a sealed value moved to another attribute, or to another session by
 * someone with write access to the store, fails authentication.
 */
export interface AttributeCodec {
  /** Stored values are the JSON itself, so a store can run atomic operations on them. */
  readonly plain: boolean
  /** The JSON text of a value (InvalidAttributeError if it has none), nothing sealed. */
  json(name: string, value: unknown): string
  /** `binding`: the session's binding; required to seal (ignored by the plain codec). */
  encode(name: string, value: unknown, binding?: string): { stored: string; json: string }
  /** `binding`: the session's binding, undefined when it has none (then no bound value opens). */
  decode(name: string, stored: string, binding?: string): { value: unknown; json: string; stale: boolean }
}

export interface EncryptionOptions {
  /** Keys of at least 32 bytes; the first seals, every one opens. */
  keys: ReadonlyArray<string | Uint8Array>
  /**
   * Migration switch: accept values stored unencrypted (written before encryption was on)
   * and reseal them on the session's next save. Default false: with encryption on, a
   * plaintext value is refused (SessionDataError), since anyone who can write to the store
   * could otherwise plant one. Turn it on for the move to encryption, off once it is done.
   */
  acceptPlaintext?: boolean
}

const SEALED = 'e1.'
/**
 * After the key id, bound values carry `b.`: `e1.<kid>.b.<base64url>`. Values from before
 * the binding (`e1.<kid>.<base64url>`, the name alone authenticated) still open, and are
 * resealed bound on the next save. base64url has no `.`, so the two cannot be confused.
 */
const BOUND = 'b.'
const HEAD = SEALED.length + 9

/** Plain JSON: what stores keep when encryption at rest is off. */
export function jsonCodec(): AttributeCodec {
  return {
    plain: true,
    json: toJson,
    encode(name, value) {
      const json = toJson(name, value)
      return { stored: json, json }
    },
    decode(name, stored) {
      if (stored.startsWith(SEALED)) {
        throw new SessionDataError(`attribute "${name}" is encrypted but no encryption keys are configured`)
      }
      return { value: parse(name, stored), json: stored, stale: false }
    },
  }
}

/**
 * AES-256-GCM at rest with key rotation: the first key seals, every key opens. A value
 * opened with an older key, sealed before the binding, or (with `acceptPlaintext`) stored
 * unencrypted is reported `stale` so the session re-seals it on its next save.
 */
export function encryptedCodec(keys: readonly (string | Uint8Array)[], options: { acceptPlaintext?: boolean } = {}): AttributeCodec {
  const acceptPlaintext = options.acceptPlaintext ?? false
  if (keys.length === 0) throw new ConfigurationError('encryption.keys needs at least one key')
  const derived = keys.map((k, i) => {
    const material = Buffer.from(k)
    if (material.length < 32) throw new ConfigurationError(`encryption key #${i} must be at least 32 bytes`)
    const key = Buffer.from(hkdfSync('sha256', material, 'sessionmesh', 'aes-256-gcm at rest', 32))
    const kid = createHash('sha256').update(key).digest('base64url').slice(0, 8)
    return { key, kid }
  })
  const primary = derived[0] as { key: Buffer; kid: string }
  return {
    plain: false,
    json: toJson,
    encode(name, value, binding) {
      const json = toJson(name, value)
      if (binding === undefined) throw new SessionDataError(`attribute "${name}": sealing needs the session's binding`)
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', primary.key, iv)
      cipher.setAAD(boundAad(binding, name))
      const body = Buffer.concat([iv, cipher.update(json, 'utf8'), cipher.final(), cipher.getAuthTag()])
      return { stored: `${SEALED}${primary.kid}.${BOUND}${body.toString('base64url')}`, json }
    },
    decode(name, stored, binding) {
      if (!stored.startsWith(SEALED)) {
        if (!acceptPlaintext) throw new SessionDataError(`attribute "${name}" is stored unencrypted although encryption is on (see encryption.acceptPlaintext)`)
        return { value: parse(name, stored), json: stored, stale: true }
      }
      const kid = stored.slice(SEALED.length, SEALED.length + 8)
      const entry = derived.find((d) => d.kid === kid)
      if (!entry) throw new SessionDataError(`attribute "${name}" was sealed with a key that is no longer configured`)
      const bound = stored.startsWith(BOUND, HEAD)
      if (bound && binding === undefined) throw new SessionDataError(`attribute "${name}" was sealed for another session`)
      const body = Buffer.from(stored.slice(bound ? HEAD + BOUND.length : HEAD), 'base64url')
      if (body.length < 28) throw new SessionDataError(`attribute "${name}" is not a sealed value`)
      try {
        const decipher = createDecipheriv('aes-256-gcm', entry.key, body.subarray(0, 12))
        decipher.setAAD(bound ? boundAad(binding as string, name) : Buffer.from(name))
        decipher.setAuthTag(body.subarray(body.length - 16))
        const json = Buffer.concat([decipher.update(body.subarray(12, body.length - 16)), decipher.final()]).toString('utf8')
        return { value: parse(name, json), json, stale: entry !== primary || !bound }
      } catch (cause) {
        if (cause instanceof SessionDataError) throw cause
        throw new SessionDataError(`attribute "${name}" failed authentication (tampered, another session's, or wrong key)`, { cause })
      }
    },
  }
}

/** The binding is always 22 characters, so binding + name cannot be split two ways. */
function boundAad(binding: string, name: string): Buffer {
  return Buffer.from(`${binding}.${name}`)
}

function toJson(name: string, value: unknown): string {
  let json: string | undefined
  try {
    json = JSON.stringify(value)
  } catch (cause) {
    throw new InvalidAttributeError(`attribute "${name}" is not JSON-serialisable`, { cause })
  }
  if (json === undefined) throw new InvalidAttributeError(`attribute "${name}" is not JSON-serialisable (${typeof value})`)
  return json
}

function parse(name: string, json: string): unknown {
  try {
    return JSON.parse(json)
  } catch (cause) {
    throw new SessionDataError(`attribute "${name}" holds invalid JSON`, { cause })
  }
}
