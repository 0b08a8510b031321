// Baseline: Fastify 5 with no session layer at all; same routes and answers as bare.ts.
import Fastify from 'fastify'
import { listenFastifyAndAnnounce } from './listen.js'

const app = Fastify()
let n = 0

app.get('/', async () => ({ user: 'alice' }))
app.post('/login', async () => ({ user: 'alice' }))
app.post('/incr', async () => ({ n: ++n }))

await listenFastifyAndAnnounce(app)
