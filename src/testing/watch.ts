import assert from 'node:assert/strict'
import type { CompleteStore } from '../core/fallbacks.js'
import type { StoreWatch } from '../core/store.js'
import { delta, eventually, newId, sessionRecord } from './records.js'
import type { TestRunner } from './runner.js'

/** How the suite breaks a store's change-feed connection, to see the loss reported. */
export type InterruptFeed = (store: CompleteStore) => Promise<void>

/**
 * The change feed (`watch`): every apply announced with the version it produced, destroy and
 * id change with null, and a lost connection reported as `status(false)`, then recovered.
 */
export function watchConformance(t: TestRunner, store: () => CompleteStore, interrupt: InterruptFeed | undefined): void {
  const changes: Array<[string, number | null]> = []
  const statuses: boolean[] = []
  let feed: StoreWatch | undefined
  const heard = (id: string, version: number | null) => changes.some(([i, v]) => i === id && v === version)

  t.before(async () => {
    const s = store()
    if (typeof s.watch !== 'function') throw new Error('the store has no watch')
    feed = s.watch({ changed: (id, version) => changes.push([id, version]), status: (c) => statuses.push(c) })
    await eventually('the change feed reports connected', () => statuses.at(-1) === true)
  })
  t.after(async () => {
    await feed?.close()
  })

  t.it('watch: an apply is announced with the version it produced', async () => {
    const s = sessionRecord()
    await store().create(s)
    const { version } = await store().apply(s.id, delta({ a: '1' }))
    await eventually(`change (${version}) of the session`, () => heard(s.id, version))
    const next = await store().apply(s.id, delta({ a: '2' }))
    await eventually(`change (${next.version}) of the session`, () => heard(s.id, next.version))
  })

  t.it('watch: destroy and id change are announced with null', async () => {
    const gone = sessionRecord()
    const moved = sessionRecord()
    await store().create(gone)
    await store().create(moved)
    assert.equal(await store().destroy(gone.id), true)
    assert.equal(await store().changeId(moved.id, newId(), Date.now()), true)
    await eventually('the destroy', () => heard(gone.id, null))
    await eventually('the id change', () => heard(moved.id, null))
  })

  if (interrupt) {
    t.it('watch: a lost connection reports status(false), and status(true) once it is back', async () => {
      const seen = statuses.length
      await interrupt(store())
      await eventually('status(false) after the interruption', () => statuses.slice(seen).includes(false))
      await eventually('status(true) again', () => statuses.at(-1) === true, 20_000)
      const s = sessionRecord()
      await store().create(s)
      const { version } = await store().apply(s.id, delta({ after: '1' }))
      await eventually('a change after the reconnect', () => heard(s.id, version))
    })
  }
}
