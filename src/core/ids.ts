import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/** 192 bits from the CSPRNG (OWASP asks for >= 64 bits of entropy; we keep a wide margin). */
const ID_BYTES = 24
const ID_PATTERN = /^[A-Za-z0-9_-]{32}$/
const MAC_LENGTH = 43 // base64url of 32 bytes, no padding

/** A new session id: 24 random bytes, base64url (32 characters). */
export function newSessionId(): string {
  return randomBytes(ID_BYTES).toString('base64url')
}

export function isSessionId(value: string): boolean {
  return ID_PATTERN.test(value)
}

/**
 * Signs and verifies `<id>.<mac>` tokens with HMAC-SHA256. The first secret signs; every
 * secret verifies, so keys rotate without logging anyone out.
 */
export class TokenSigner {
  readonly #keys: Buffer[]
  /**
   * Primary-key MACs already computed, by id (bounded, oldest out first). A hit still
   * compares the presented MAC in constant time; it only skips recomputing the HMAC, which
   * is most of a read-only request's session cost. Ids are random, so a lookup tells an
   * attacker nothing.
   */
  readonly #known = new Map<string, Buffer>()
  readonly #knownMax: number

  constructor(secrets: readonly (string | Uint8Array)[], cacheSize = 10_000) {
    this.#keys = secrets.map((s) => Buffer.from(s))
    this.#knownMax = cacheSize
  }

  sign(id: string): string {
    const mac = this.#mac(this.#keys[0] as Buffer, id).toString('base64url')
    this.#remember(id, Buffer.from(mac))
    return `${id}.${mac}`
  }

  /**
   * The id inside a token, and whether it was signed with an older key (so the caller
   * re-signs it). Null for anything malformed or forged; never throws.
   */
  verify(token: string): { id: string; rotated: boolean } | null {
    const dot = token.length === 32 + 1 + MAC_LENGTH ? 32 : -1
    if (dot === -1 || token.charCodeAt(dot) !== 46) return null
    const id = token.slice(0, dot)
    const macText = token.slice(dot + 1)
    if (!isSessionId(id) || !/^[A-Za-z0-9_-]+$/.test(macText)) return null
    const known = this.#known.get(id)
    // Comparing the base64url text (not decoded bytes) also insists on the canonical spelling.
    // No match falls through: the token may be signed with an older key.
    if (known && timingSafeEqual(known, Buffer.from(macText))) return { id, rotated: false }
    const given = Buffer.from(macText, 'base64url')
    // base64url ignores the unused low bits of the last character: insist on the one canonical spelling.
    if (given.length !== 32 || given.toString('base64url') !== macText) return null
    // Every key is tried even after a match so timing does not reveal which key signed.
    let match = -1
    for (let i = 0; i < this.#keys.length; i++) {
      if (timingSafeEqual(this.#mac(this.#keys[i] as Buffer, id), given) && match === -1) match = i
    }
    if (match === -1) return null
    if (match === 0) this.#remember(id, Buffer.from(macText))
    return { id, rotated: match > 0 }
  }

  #remember(id: string, mac: Buffer): void {
    this.#known.delete(id)
    this.#known.set(id, mac)
    if (this.#known.size > this.#knownMax) this.#known.delete(this.#known.keys().next().value as string)
  }

  #mac(key: Buffer, id: string): Buffer {
    return createHmac('sha256', key).update(id).digest()
  }
}
