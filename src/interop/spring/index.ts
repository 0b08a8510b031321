/**
 * Spring Session interop: Spring Session Data Redis' layout with the JSON serializer
 * (GenericJackson2JsonRedisSerializer) and its base64 `SESSION` cookie. See docs/MIGRATION.md.
 */
export { springSessionStore, PRINCIPAL_NAME_INDEX_NAME } from './store.js'
export type { SpringSessionOptions, SpringSessionStoreOptions } from './store.js'
export { springSessionTokens } from './tokens.js'
export { fromSpring, toSpring, javaLong, withoutTypes, jacksonString, javaDouble } from './jackson.js'
