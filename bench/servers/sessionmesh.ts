// Express 5 + sessionmesh with its in-process memory store; same routes as express-session.ts.
import { serve } from './sessionmesh-app.js'

await serve((api) => api.memoryStore())
