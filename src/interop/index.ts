/**
 * Interop with other session frameworks: adopt express-session + connect-redis sessions
 * (`connectRedisSessions`, for `migrateFrom`), and share sessions with Spring Session
 * services on Spring Session's Redis layout (`springSessionStore` with `springSessionTokens`).
 * See docs/MIGRATION.md.
 */
export { connectRedisSessions } from './connect-redis.js'
export type { ConnectRedisSessions, ConnectRedisSessionsOptions, LegacyData } from './connect-redis.js'
export * from './spring/index.js'
