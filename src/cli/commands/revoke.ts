import { redactId } from '../../core/errors.js'
import { CliNotFoundError, CliUsageError } from '../errors.js'
import { emit } from '../output.js'
import { type GlobalOptions, withStore } from '../store.js'

export interface RevokeOptions {
  principal?: string
}

/**
 * `sessionmesh revoke ID` or `sessionmesh revoke --principal P`: ends one session, or every
 * session of a user ("log out everywhere"), straight in the store. Running apps find the
 * session gone on their next load; `destroyed` events are not emitted (they are
 * per-process, and this process serves no requests).
 *
 * @example
 * // sessionmesh revoke --principal user:42 --json   ->  {"principal":"user:42","revoked":3}
 * await revoke(undefined, { principal: 'user:42' }, global)
 */
export async function revoke(id: string | undefined, options: RevokeOptions, global: GlobalOptions): Promise<void> {
  if ((id === undefined) === (options.principal === undefined)) throw new CliUsageError('revoke: give a session id or --principal <name> (one of them)')
  await withStore(global, async ({ store }) => {
    if (id !== undefined) {
      if (!(await store.destroy(id))) throw new CliNotFoundError(`no session ${redactId(id)}`)
      emit(global.json === true, { revoked: 1 }, () => [`revoked 1 session (${redactId(id)})`])
      return
    }
    const principal = options.principal as string
    const ids = await store.findByPrincipal(principal, Date.now())
    let revoked = 0
    for (const sid of ids) if (await store.destroy(sid)) revoked++
    // No sessions is not an error: "log out everywhere" for a user who is logged out nowhere is done.
    emit(global.json === true, { principal, revoked }, () => [`revoked ${revoked} session(s) of ${principal}`])
  })
}
