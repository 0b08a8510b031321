import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto'
import { ConfigurationError, InvalidAttributeError, SessionDataError } from './errors.js'

/**
 * Turns attribute values into the strings a store keeps, and back: JSON, optionally sealed
 * with AES-256-GCM. Each attribute is sealed on its own (the attribute name is the
 * additional authenticated data, so sealed values cannot be swapped between attributes),
 * which keeps delta saves working with encryption on.
 */
export interface AttributeCodec {
  /** Stored values are the JSON itself, so a store can run atomic operations on them. */
  readonly plain: boolean
  encode(name: string, value: unknown): { stored: string; json: string }
  decode(name: string, stored: string): { value: unknown; json: string; stale: boolean }
}

const SEALED = 'e1.'

/** Plain JSON: what stores keep when encryption at rest is off. */
export function jsonCodec(): AttributeCodec {
  return {
    plain: true,
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
 * opened with an older key (or stored unencrypted) is reported `stale` so the session
 * re-seals it on its next save.
 */
export function encryptedCodec(keys: readonly (string | Uint8Array)[]): AttributeCodec {
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
    encode(name, value) {
      const json = toJson(name, value)
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', primary.key, iv)
      cipher.setAAD(Buffer.from(name))
      const body = Buffer.concat([iv, cipher.update(json, 'utf8'), cipher.final(), cipher.getAuthTag()])
      return { stored: `${SEALED}${primary.kid}.${body.toString('base64url')}`, json }
    },
    decode(name, stored) {
      if (!stored.startsWith(SEALED)) return { value: parse(name, stored), json: stored, stale: true }
      const kid = stored.slice(SEALED.length, SEALED.length + 8)
      const entry = derived.find((d) => d.kid === kid)
      if (!entry) throw new SessionDataError(`attribute "${name}" was sealed with a key that is no longer configured`)
      const body = Buffer.from(stored.slice(SEALED.length + 9), 'base64url')
      if (body.length < 28) throw new SessionDataError(`attribute "${name}" is not a sealed value`)
      try {
        const decipher = createDecipheriv('aes-256-gcm', entry.key, body.subarray(0, 12))
        decipher.setAAD(Buffer.from(name))
        decipher.setAuthTag(body.subarray(body.length - 16))
        const json = Buffer.concat([decipher.update(body.subarray(12, body.length - 16)), decipher.final()]).toString('utf8')
        return { value: parse(name, json), json, stale: entry !== primary }
      } catch (cause) {
        if (cause instanceof SessionDataError) throw cause
        throw new SessionDataError(`attribute "${name}" failed authentication (tampered or wrong key)`, { cause })
      }
    },
  }
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
