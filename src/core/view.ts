import type { Session } from './session.js'

/**
 * The session with express-session style property access: `view.user = u` records a set,
 * `delete view.user` a delete, `view.user` reads. Session members (`id`, `regenerate`,
 * `save`, `get`, ...) keep their meaning; an attribute whose name is one of them is
 * reached with `get`/`set`. Names such as `__proto__` are plain attributes here.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- express-session users read attributes untyped, as before
export type SessionView = Session & Record<string, any>

// `key in session` covers Session's own API; `__proto__`/`constructor` are left to attributes.
const isMember = (session: Session, key: PropertyKey): boolean =>
  typeof key === 'symbol' || (key !== '__proto__' && key !== 'constructor' && key in session)

// One handler for every view: a literal per request would make ten closures each time.
const handler: ProxyHandler<Session> = {
  get(target, key) {
    if (isMember(target, key)) {
      const v = Reflect.get(target, key, target) as unknown
      return typeof v === 'function' ? ((v as (...a: unknown[]) => unknown).bind(target) as unknown) : v
    }
    return target.get<unknown>(key as string)
  },
  set(target, key, value) {
    if (isMember(target, key)) return Reflect.set(target, key, value, target)
    target.set(key as string, value)
    return true
  },
  deleteProperty(target, key) {
    if (isMember(target, key)) return false
    target.delete(key as string)
    return true
  },
  has(target, key) {
    return isMember(target, key) || target.has(key as string)
  },
  ownKeys(target) {
    return target.keys()
  },
  getOwnPropertyDescriptor(target, key) {
    if (typeof key === 'symbol' || !target.has(key)) return undefined
    return { value: target.get<unknown>(key), writable: true, enumerable: true, configurable: true }
  },
  defineProperty() {
    return false
  },
  setPrototypeOf() {
    return false
  },
}

export function sessionView(session: Session): SessionView {
  return new Proxy(session, handler) as SessionView
}
