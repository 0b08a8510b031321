import { holdsAttribute } from './internal.js'
import { Session } from './session.js'

/**
 * The session with express-session style property access: `view.user = u` records a set,
 * `delete view.user` a delete, `view.user` reads, and `Object.keys(view)` lists the
 * attributes. Every name is data: an attribute shadows the session member of the same name
 * (`view.save = 'x'` stores an attribute `save`, and `view.save` reads it back), as own data
 * shadows a method in express-session. The one exception is `principal`, whose setter is the
 * documented way to set the indexed user. Members stay reachable while no attribute has
 * their name; `get`/`set` always reach attributes.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- express-session users read attributes untyped, as before
export type SessionView = Session & Record<string, any>

/** Setters of the session API that keep their meaning in the view (not attributes). */
const SETTERS = new Set(
  Object.entries(Object.getOwnPropertyDescriptors(Session.prototype))
    .filter(([, d]) => typeof d.set === 'function')
    .map(([name]) => name),
)

// A member of the API (Session's own, or Object.prototype's such as toString), never `__proto__` or `constructor`.
const isMember = (session: Session, key: string): boolean => key !== '__proto__' && key !== 'constructor' && key in session

// One handler for every view: a literal per request would make ten closures each time.
const handler: ProxyHandler<Session> = {
  get(target, key) {
    if (typeof key === 'symbol') return Reflect.get(target, key, target) as unknown
    if (!target[holdsAttribute](key) && isMember(target, key)) {
      const v = Reflect.get(target, key, target) as unknown
      return typeof v === 'function' ? ((v as (...a: unknown[]) => unknown).bind(target) as unknown) : v
    }
    return target.get<unknown>(key)
  },
  set(target, key, value) {
    if (typeof key === 'symbol' || SETTERS.has(key)) return Reflect.set(target, key, value, target)
    target.set(key, value)
    return true
  },
  deleteProperty(target, key) {
    if (typeof key === 'symbol') return false
    target.delete(key)
    return true
  },
  has(target, key) {
    if (typeof key === 'symbol') return Reflect.has(target, key)
    return target.has(key) || isMember(target, key)
  },
  ownKeys(target) {
    return target.keys()
  },
  getOwnPropertyDescriptor(target, key) {
    if (typeof key === 'symbol' || !target[holdsAttribute](key)) return undefined
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
