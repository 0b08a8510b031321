// Fastify 5 + sessionmesh's Fastify plugin with its in-process memory store; same routes and
// answers as fastify-session.ts.
import { serveFastify } from './sessionmesh-app.js'

await serveFastify((api) => api.memoryStore())
