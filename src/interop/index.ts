/**
 * Interop with other session frameworks: adopt express-session + connect-redis sessions
 * (`connectRedisSessions`, for `migrateFrom`), and share sessions with Spring Session
 * services (`springSessionTokens` with `redisStore({ layout: 'spring-session' })`).
 * See docs/MIGRATION.md.
 */
export { connectRedisSessions } from './connect-redis.js'
export type { ConnectRedisSessions, ConnectRedisSessionsOptions, LegacyData } from './connect-redis.js'
export * from './spring/index.js'
