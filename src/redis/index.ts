/**
 * The Redis layer every Redis-backed part shares (the Redis store, the Spring Session store,
 * the Redis Streams bus, the connect-redis source, the CLI): connecting to a server, a
 * Cluster or a Sentinel (`connection.ts`), a store's background connection
 * (`store-connection.ts`), Lua scripts defined with their keys, arguments and reply
 * (`script.ts`), what a failure means (`errors.ts`), a dedicated blocking reader for
 * streams (`stream-reader.ts`), and the deadline every command gets (`deadline.ts`; a late
 * client is replaced by `recycler.ts`, WAITs run on `wait-lanes.ts`). Internal: the public entries re-export what users need.
 */
export { type AnyClient, type AnyCluster, type AnyRedis, type AnySentinel, kindOf, loadRedis, type RedisTarget } from './client.js'
export { type ConnectTimeouts, connectRedis, type NodeRunner, type RedisConnection } from './connection.js'
export { withDeadline } from './deadline.js'
export { scriptRefusal, unavailable } from './errors.js'
export { HASH_CHUNKS } from './lua.js'
export { type CallOf, defineScript, type LuaHelpers, luaHelpers, type LuaScript, type Named, type RedisReply, type ReplyOf, type ScriptCall } from './script.js'
export { type StoreConnection, storeConnection, type StoreConnectionOptions } from './store-connection.js'
export { openReader, type StreamReader } from './stream-reader.js'
