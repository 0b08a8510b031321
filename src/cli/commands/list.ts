import type { StoredSession } from '../../core/store.js'
import { emit, iso, relative, shownId, table } from '../output.js'
import { type GlobalOptions, intOption, withStore } from '../store.js'

export interface ListOptions {
  principal?: string
  limit: string
  showIds?: boolean
}

/** One session as `list --json` prints it: never attribute values, only their names. */
export interface ListedSession {
  id: string
  principal: string | null
  createdAt: string
  lastAccessedAt: string
  expiresAt: string
  attributes: string[]
}

/**
 * `sessionmesh list`: live sessions, one principal's or the first N in the store's order.
 *
 * @example
 * // sessionmesh list --principal user:42 --json
 * await list({ principal: 'user:42', limit: '50' }, { store: 'sessions.db', timeout: '5s', json: true, progress: true })
 */
export async function list(options: ListOptions, global: GlobalOptions): Promise<void> {
  const limit = intOption(options.limit, '--limit')
  const show = options.showIds === true
  await withStore(global, async ({ store }) => {
    const now = Date.now()
    let sessions: StoredSession[]
    let truncated = false
    if (options.principal !== undefined) {
      const ids = await store.findByPrincipal(options.principal, now)
      const loaded = await Promise.all(ids.map((id) => store.load(id, now)))
      // Most recently used first: "which of my devices is this" is the usual question.
      sessions = loaded.filter((s): s is StoredSession => s !== null).sort((a, b) => b.lastAccessedAt - a.lastAccessedAt)
      if (limit > 0 && sessions.length > limit) {
        sessions = sessions.slice(0, limit)
        truncated = true
      }
    } else {
      // One page past the limit tells whether there are more, without scanning everything.
      const page = await store.scan({ cursor: null, limit: limit > 0 ? limit + 1 : Number.MAX_SAFE_INTEGER, now })
      sessions = limit > 0 ? page.sessions.slice(0, limit) : page.sessions
      truncated = page.sessions.length > sessions.length
    }
    const listed: ListedSession[] = sessions.map((s) => ({
      id: shownId(s.id, show),
      principal: s.principal,
      createdAt: iso(s.createdAt),
      lastAccessedAt: iso(s.lastAccessedAt),
      expiresAt: iso(s.expiresAt),
      attributes: [...s.attributes.keys()],
    }))
    emit(global.json === true, { sessions: listed, count: listed.length, truncated }, () => {
      if (listed.length === 0) return ['no live sessions']
      const rows = sessions.map((s, i) => [
        listed[i]?.id ?? '',
        s.principal ?? '-',
        iso(s.createdAt),
        relative(s.lastAccessedAt, now),
        relative(s.expiresAt, now),
        [...s.attributes.keys()].join(',') || '-',
      ])
      const lines = table(['ID', 'PRINCIPAL', 'CREATED', 'LAST ACCESS', 'EXPIRES', 'ATTRIBUTES'], rows)
      if (truncated) lines.push(`(first ${listed.length}; --limit 0 lists all)`)
      return lines
    })
  })
}
