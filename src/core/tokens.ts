import { isSessionId, newSessionId, TokenSigner } from './ids.js'

/**
 * How session ids are made and carried in a cookie or header. The default signs every
 * token (HMAC-SHA256); interop formats (Spring Session's base64 `SESSION` cookie) carry
 * ids as another framework expects them.
 */
export interface SessionTokens {
  /** A new, unguessable session id. */
  newId(): string
  /** Whether `id` is well-formed for this format (cheap; no store access). */
  isId(id: string): boolean
  /** The token that carries `id` to the client. */
  issue(id: string): string
  /** The id inside a presented token, or null if malformed or forged. `rotated`: re-issue it. Never throws. */
  read(token: string): { id: string; rotated: boolean } | null
}

/** The default: 192-bit random ids in `<id>.<hmac>` tokens; the first secret signs, all verify. */
export function signedTokens(secrets: ReadonlyArray<string | Uint8Array>): SessionTokens & { readonly signer: TokenSigner } {
  const signer = new TokenSigner(secrets)
  return {
    signer,
    newId: newSessionId,
    isId: isSessionId,
    issue: (id) => signer.sign(id),
    read: (token) => signer.verify(token),
  }
}
