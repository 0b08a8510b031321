import { encryptedCodec } from '../../core/codec.js'
import { redactId } from '../../core/errors.js'
import { BINDING_ATTRIBUTE, bindingOf } from '../../core/session.js'
import { CliNotFoundError, CliUsageError } from '../errors.js'
import { emit, iso, shownId } from '../output.js'
import { type GlobalOptions, withStore } from '../store.js'

export interface ShowOptions {
  keys?: string
  showIds?: boolean
}

/** One attribute as `show --json` prints it: exactly one of `value`, `encrypted` or `error`. */
export type ShownAttribute =
  | { name: string; bytes: number; value: unknown }
  | { name: string; bytes: number; encrypted: true }
  | { name: string; bytes: number; error: string }

/** Sealed values start with this (src/core/codec.ts). */
const SEALED = 'e1.'
/** A signed token `<id>.<mac>`: people paste cookie values; the id is the part before the dot. */
const TOKEN = /^([A-Za-z0-9_-]{32})\.[A-Za-z0-9_-]{43}$/

/**
 * Encryption keys from the environment variable named by `--keys`: a JSON array of strings,
 * or comma-separated. Taken by name, never as a flag value, so keys stay out of shell
 * history and `ps`.
 */
export function keysFromEnv(name: string): string[] {
  const raw = process.env[name]
  if (raw === undefined || raw === '') throw new CliUsageError(`--keys ${name}: that environment variable is not set`)
  let keys: unknown
  try {
    keys = raw.trimStart().startsWith('[') ? JSON.parse(raw) : raw.split(',').map((k) => k.trim())
  } catch {
    throw new CliUsageError(`--keys ${name}: not a JSON array of strings`)
  }
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === 'string' && k.length > 0)) {
    throw new CliUsageError(`--keys ${name}: give one or more keys, comma-separated or as a JSON array of strings`)
  }
  return keys as string[]
}

/**
 * `sessionmesh show ID`: one session, attribute values decoded as JSON.
 *
 * @example
 * // SM_KEYS=... sessionmesh show <id> --keys SM_KEYS --json
 * await show('<id>', { keys: 'SM_KEYS' }, global)
 */
export async function show(idOrToken: string, options: ShowOptions, global: GlobalOptions): Promise<void> {
  const id = TOKEN.exec(idOrToken)?.[1] ?? idOrToken
  const codec = options.keys !== undefined ? encryptedCodec(keysFromEnv(options.keys)) : null
  await withStore(global, async ({ store }) => {
    const now = Date.now()
    const s = await store.load(id, now)
    if (!s) throw new CliNotFoundError(`no live session ${redactId(id)}`)
    // The session's binding (what sealed values are bound to) is sessionmesh's, not an attribute.
    const binding = bindingOf(s.attributes)
    const attributes: ShownAttribute[] = [...s.attributes].filter(([name]) => name !== BINDING_ATTRIBUTE).map(([name, stored]) => {
      const bytes = Buffer.byteLength(stored)
      try {
        if (codec) return { name, bytes, value: codec.decode(name, stored, binding).value }
        if (stored.startsWith(SEALED)) return { name, bytes, encrypted: true as const }
        return { name, bytes, value: JSON.parse(stored) as unknown }
      } catch (e) {
        return { name, bytes, error: e instanceof SyntaxError ? 'not valid JSON' : (e as Error).message }
      }
    })
    const encrypted = attributes.filter((a) => 'encrypted' in a).length
    const result = {
      id: shownId(s.id, options.showIds === true),
      principal: s.principal,
      createdAt: iso(s.createdAt),
      lastAccessedAt: iso(s.lastAccessedAt),
      expiresAt: iso(s.expiresAt),
      absoluteExpiresAt: iso(s.createdAt + s.absoluteTimeoutMs),
      idIssuedAt: iso(s.idIssuedAt),
      idleTimeoutMs: s.idleTimeoutMs,
      absoluteTimeoutMs: s.absoluteTimeoutMs,
      version: s.version,
      attributes,
      encrypted,
    }
    emit(global.json === true, result, () => {
      const lines = [
        `id               ${result.id}`,
        `principal        ${s.principal ?? '-'}`,
        `created          ${result.createdAt}`,
        `last access      ${result.lastAccessedAt}`,
        `expires          ${result.expiresAt} (idle ${s.idleTimeoutMs / 1000}s, absolute ${result.absoluteExpiresAt})`,
        `id issued        ${result.idIssuedAt}`,
        `version          ${s.version}`,
        `attributes       ${attributes.length}`,
      ]
      for (const a of attributes) {
        const text = 'value' in a ? JSON.stringify(a.value) : 'encrypted' in a ? '(encrypted)' : `(unreadable: ${a.error})`
        lines.push(`  ${a.name} = ${text}`)
      }
      if (encrypted > 0) {
        lines.push(`${encrypted} attribute(s) are encrypted at rest and cannot be shown without the keys:`)
        lines.push('pass --keys <ENV_VAR>, naming an environment variable that holds them (comma-separated or a JSON array).')
      }
      return lines
    })
  })
}
