/**
 * The request machinery's handles on a `Session`. Symbols, and exported from no public
 * entry: no attribute name can reach them through the property view (`req.session.commit =
 * 'x'` is data), and they are not part of the published API.
 */
/** Writes what changed: nothing, a touch, a create or one delta. */
export const commitSession: unique symbol = Symbol('sessionmesh.commit')
/** False when a commit now would certainly write nothing (no change, no object handed out, no touch due). */
export const needsCommit: unique symbol = Symbol('sessionmesh.needsCommit')
/** The id changes without the caller asking: periodic renewal. */
export const renewSession: unique symbol = Symbol('sessionmesh.renew')
/** Whether the session holds attribute `name`, without counting it as read (the property view's lookups). */
export const holdsAttribute: unique symbol = Symbol('sessionmesh.holdsAttribute')
