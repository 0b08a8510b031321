// The sessionmesh benchmark server, whatever its store: Express 5, the session adapter and
// the routes every server answers alike. SESSIONMESH_ROOT (set by the runner) points at a
// tsc build of src/; without it, src/ runs.
import express from 'express'
import { pathToFileURL } from 'node:url'
import type * as Api from '../../src/index.js'
import type * as ExpressAdapter from '../../src/adapters/express/index.js'
import { listenAndAnnounce } from './listen.js'

const root = process.env.SESSIONMESH_ROOT
/** Imports a module of sessionmesh from the build the runner made (or from src/). */
export const load = async <T>(path: string): Promise<T> =>
  (await import(root ? pathToFileURL(`${root}/${path}`).href : `../../src/${path}`)) as T

/** Serves the benchmark routes with sessionmesh on `store` (made from the loaded API). */
export async function serve(makeStore: (api: typeof Api) => Promise<Api.SessionStore> | Api.SessionStore): Promise<void> {
  const api = await load<typeof Api>('index.js')
  const { session } = await load<typeof ExpressAdapter>('adapters/express/index.js')
  const sessions = api.createSessions({
    store: await makeStore(api),
    secret: 'bench-secret-bench-secret-bench-secret-0123',
    // No background sweeps during measurements (nothing expires in a benchmark run anyway).
    sweepInterval: false,
  })
  const app = express()
  app.use(session(sessions))

  app.post('/login', (req, res) => {
    req.session.user = 'alice'
    res.json({ user: 'alice' })
  })
  app.get('/', (req, res) => {
    const user = req.session.user as string | undefined
    if (!user) res.status(401).json({ error: 'no session' })
    else res.json({ user })
  })
  app.post('/incr', (req, res) => {
    if (!req.session.user) {
      res.status(401).json({ error: 'no session' })
      return
    }
    const n = ((req.session.n as number | undefined) ?? 0) + 1
    req.session.n = n
    res.json({ n })
  })

  listenAndAnnounce(app, () => sessions.close())
}
