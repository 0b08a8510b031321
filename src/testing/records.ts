import { randomBytes } from 'node:crypto'
import type { AttributeChange, SessionDelta, StoredSession } from '../core/store.js'

/** A fresh id in sessionmesh's format (192 random bits, base64url). */
export const newId = (): string => randomBytes(24).toString('base64url')

/** A live session record (one attribute, `user`), with any field overridden. */
export function sessionRecord(overrides: Partial<StoredSession> = {}): StoredSession {
  const now = overrides.createdAt ?? Date.now()
  const idle = overrides.idleTimeoutMs ?? 60_000
  const absolute = overrides.absoluteTimeoutMs ?? 3_600_000
  return {
    id: newId(),
    attributes: new Map([['user', '"alice"']]),
    createdAt: now,
    lastAccessedAt: now,
    idIssuedAt: now,
    idleTimeoutMs: idle,
    absoluteTimeoutMs: absolute,
    expiresAt: Math.min(now + idle, now + absolute),
    principal: null,
    version: 1,
    fence: 0,
    ...overrides,
  }
}

/** A delta of blind writes: a string sets that JSON text, null deletes. */
export function delta(changes: Record<string, string | null>, extra: Partial<SessionDelta> = {}): SessionDelta {
  const attributes = new Map<string, AttributeChange>()
  for (const [k, v] of Object.entries(changes)) attributes.set(k, v === null ? { op: 'delete' } : { op: 'set', value: v })
  return changesDelta([...attributes], extra)
}

/** A delta of any changes, atomic ones included. */
export function changesDelta(changes: Array<[string, AttributeChange]>, extra: Partial<SessionDelta> = {}): SessionDelta {
  const now = extra.lastAccessedAt ?? Date.now()
  return { attributes: new Map(changes), lastAccessedAt: now, expiresAt: now + 60_000, ...extra }
}

/** Polls `condition` until it holds; fails with `what` once `ms` have passed. */
export async function eventually(what: string, condition: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for: ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}
