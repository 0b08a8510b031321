// The express-session benchmark server, whatever its store: Express 5, express-session in
// its usual configuration (resave: false, saveUninitialized: false) and the shared routes.
import express, { type Express, type Request } from 'express'
import session from 'express-session'
import { loggedIn, userNumber } from './cart.js'
import { listenAndAnnounce } from './listen.js'

interface Data {
  user: string
  n: number
  principal: string
  cart: unknown
}
// `req.session` is typed by sessionmesh's Express augmentation in this project; say what it is here.
const sess = (req: Request) => req.session as unknown as session.Session & Partial<Data>

/** The app with the benchmark routes; `store` undefined means express-session's MemoryStore. */
export function createApp(store?: session.Store): Express {
  const app = express()
  app.use(
    session({
      secret: 'bench-secret-bench-secret-bench-secret-0123',
      resave: false,
      saveUninitialized: false,
      ...(store ? { store } : {}),
    }),
  )

  app.post('/login', (req, res) => {
    sess(req).user = 'alice'
    res.json({ user: 'alice' })
  })
  app.post('/login-cart', (req, res) => {
    const s = sess(req)
    const data = loggedIn(userNumber(req.query))
    s.user = data.user
    s.principal = data.principal
    s.cart = data.cart
    res.json({ ok: true })
  })
  app.get('/', (req, res) => {
    const user = sess(req).user
    if (!user) res.status(401).json({ error: 'no session' })
    else res.json({ user })
  })
  app.post('/incr', (req, res) => {
    const s = sess(req)
    if (!s.user) {
      res.status(401).json({ error: 'no session' })
      return
    }
    s.n = (s.n ?? 0) + 1
    res.json({ n: s.n })
  })
  return app
}

/** Serves the benchmark routes; `store` undefined means express-session's MemoryStore. */
export function serve(store?: session.Store, onClose?: () => Promise<void>): void {
  listenAndAnnounce(createApp(store), onClose)
}
