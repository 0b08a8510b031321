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

  constructor(secrets: readonly (string | Uint8Array)[]) {
    this.#keys = secrets.map((s) => Buffer.from(s))
  }

  sign(id: string): string {
    return `${id}.${this.#mac(this.#keys[0] as Buffer, id).toString('base64url')}`
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
    const given = Buffer.from(macText, 'base64url')
    // base64url ignores the unused low bits of the last character: insist on the one canonical spelling.
    if (given.length !== 32 || given.toString('base64url') !== macText) return null
    // Every key is tried even after a match so timing does not reveal which key signed.
    let match = -1
    for (let i = 0; i < this.#keys.length; i++) {
      if (timingSafeEqual(this.#mac(this.#keys[i] as Buffer, id), given) && match === -1) match = i
    }
    return match === -1 ? null : { id, rotated: match > 0 }
  }

  #mac(key: Buffer, id: string): Buffer {
    return createHmac('sha256', key).update(id).digest()
  }
}
