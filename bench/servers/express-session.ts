// Express 5 + express-session in its usual configuration (MemoryStore, resave: false,
// saveUninitialized: false).
import { serve } from './express-session-app.js'

serve()
