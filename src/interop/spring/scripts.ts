/**
 * Lua for the Spring Session layout, each script defined with its keys, arguments and reply
 * side by side (src/redis/script.ts). Every script uses SPRING (below) and takes the same
 * first four arguments: `namespace` (the key namespace with its trailing `:`), `clusterMode`
 * (`1` on Redis Cluster), `retentionMs` (how long an expired session's hash is kept) and
 * `adoptAbsoluteMs` (the absolute timeout given to sessions Spring created); `springScript`
 * puts them in front of each script's own.
 *
 * Spring's keys for one session are in different hash slots (Spring uses no hash tags), so:
 * - standalone / Sentinel: one script does everything, the session hash and Spring's other
 *   keys (shadow key, minute bucket, principal index) and ours (expiry and id sets); the
 *   other keys are reached by name from inside the script, which Redis allows off Cluster.
 * - Cluster: the script only touches the key it was given; writes to other keys are returned
 *   as "effects" (`{command, key, args...}`) that the store runs right after, in order.
 *
 * Every script returns `{payload, effects}` (parsed as `SpringReply`); refusals are error
 * replies `SESSIONMESH_<WHAT>`.
 */
import type { StoredSession } from '../../core/store.js'
import { defineScript, HASH_CHUNKS, luaHelpers, type LuaScript, type RedisReply } from '../../redis/index.js'
import { fromSpring } from './jackson.js'

/** The arguments every Spring script starts with. */
export const SPRING_ARGS = ['namespace', 'clusterMode', 'retentionMs', 'adoptAbsoluteMs'] as const
export type SpringArgs = typeof SPRING_ARGS

/** A script's payload and the writes to other slots it leaves to the caller (Cluster; none otherwise). */
export interface SpringReply<P> {
  payload: P
  effects: string[][]
}

/** A Spring layout script: SPRING_ARGS first, then its own. */
export type SpringScript<K extends readonly string[], A extends readonly string[], P> = LuaScript<K, readonly [...SpringArgs, ...A], SpringReply<P>>

const SPRING = luaHelpers(
  'spring session layout',
  `
local NS, CLUSTER, RETENTION, ADOPT_ABS = namespace, clusterMode == '1', tonumber(retentionMs), tonumber(adoptAbsoluteMs)
local PFIELD = 'sessionAttr:org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME'
local SFIELD = 'sessionAttr:SPRING_SECURITY_CONTEXT'
local EXPIRIES = NS .. 'sessionmesh:expiries'
local IDS = NS .. 'sessionmesh:ids'
local effects = {}

-- A write to a key outside this script's slot: done now off Cluster, returned on Cluster.
local function fx(...)
  if CLUSTER then effects[#effects + 1] = {...} else redis.call(...) end
end
local function fmt(n) return string.format('%.0f', n) end
local function session_key(id) return NS .. 'sessions:' .. id end
local function shadow_key(id) return NS .. 'sessions:expires:' .. id end
-- RedisIndexedSessionRepository's roundUpToNextMinute
local function bucket_of(e) return (math.floor(e / 60000) + 1) * 60000 end
local function bucket_key(e) return NS .. 'expirations:' .. fmt(bucket_of(e)) end
local function index_key(p) return NS .. 'index:org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME:' .. p end
-- Set members go through Spring's value serializer: a String is JSON-quoted. Ids and
-- 'expires:<id>' have nothing to escape (the tokens only let [A-Za-z0-9_-] through).
local function quoted(s) return '"' .. s .. '"' end
local function max_inactive(idle) return math.min(2147483647, math.ceil(idle / 1000)) end
local function server_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function hash_of(key)
  -- A key of another type there (not a session) reads as no session rather than failing every call.
  local ok, flat = pcall(redis.call, 'HGETALL', key)
  if not ok then return nil, {} end
  if #flat == 0 then return nil, flat end
  local m = {}
  for i = 1, #flat, 2 do m[flat[i]] = flat[i + 1] end
  return m, flat
end

local function json(v)
  if v == nil or v == '' then return nil end
  local ok, r = pcall(cjson.decode, v)
  if ok then return r end
  return nil
end

-- Spring Session's PrincipalNameIndexResolver: the PRINCIPAL_NAME_INDEX_NAME attribute if it
-- is a String, else SPRING_SECURITY_CONTEXT's authentication.name (a String principal, a
-- UserDetails' username, an OAuth2 user's name attribute, a Principal's name).
local function principal_of(m)
  local p = json(m[PFIELD])
  if type(p) == 'string' and p ~= '' then return p end
  local ctx = json(m[SFIELD])
  local auth = type(ctx) == 'table' and ctx['authentication'] or nil
  if type(auth) ~= 'table' then return nil end
  local who = auth['principal']
  if type(who) == 'string' and who ~= '' then return who end
  if type(who) ~= 'table' then return nil end
  if type(who['username']) == 'string' and who['username'] ~= '' then return who['username'] end
  local key, attrs = who['nameAttributeKey'], who['attributes']
  if type(key) == 'string' and type(attrs) == 'table' and type(attrs[key]) == 'string' and attrs[key] ~= '' then return attrs[key] end
  if type(who['name']) == 'string' and who['name'] ~= '' then return who['name'] end
  return nil
end

-- The session as sessionmesh sees it. Spring's fields are the truth for what Spring may
-- change (lastAccessedTime, maxInactiveInterval); our fields add what Spring lacks. A session
-- Spring created has none of ours: version 1, fence 0, the configured absolute timeout.
-- maxInactiveInterval 0 is a destroyed session (Spring's deleteById, or ours).
local function resolve(m)
  local created, last, mi = tonumber(m['creationTime']), tonumber(m['lastAccessedTime']), tonumber(m['maxInactiveInterval'])
  if not created or not last or not mi then return nil end
  local s = { created = created, last = last, principal = principal_of(m) }
  local version, idle, abs = tonumber(m['sessionmesh:version']), tonumber(m['sessionmesh:idleTimeoutMs']), tonumber(m['sessionmesh:absoluteTimeoutMs'])
  if version and idle and abs then
    s.version, s.abs = version, abs
    s.fence = tonumber(m['sessionmesh:fence']) or 0
    s.issued = tonumber(m['sessionmesh:idIssuedAt']) or created
    -- Spring changed the idle timeout (setMaxInactiveInterval): it wins.
    if mi ~= max_inactive(idle) then idle = (mi < 0) and abs or mi * 1000 end
    s.idle = idle
    local expires = tonumber(m['sessionmesh:expiresAt'])
    if expires and tonumber(m['sessionmesh:lastAccessedTime']) == last and idle == tonumber(m['sessionmesh:idleTimeoutMs']) then
      s.expires = expires
    else
      -- Spring used the session since our last write: the expiry follows its access time.
      s.expires = math.min(last + idle, created + abs)
    end
  else
    s.version, s.fence, s.issued, s.abs = 1, 0, created, ADOPT_ABS
    s.idle = (mi < 0) and ADOPT_ABS or mi * 1000
    s.expires = math.min(last + s.idle, created + ADOPT_ABS)
  end
  if mi == 0 then s.expires = 0 end
  return s
end

local function write_state(key, s)
  redis.call('HSET', key,
    'lastAccessedTime', fmt(s.last),
    'sessionmesh:version', fmt(s.version),
    'sessionmesh:fence', fmt(s.fence),
    'sessionmesh:idIssuedAt', fmt(s.issued),
    'sessionmesh:idleTimeoutMs', fmt(s.idle),
    'sessionmesh:absoluteTimeoutMs', fmt(s.abs),
    'sessionmesh:expiresAt', fmt(s.expires),
    'sessionmesh:lastAccessedTime', fmt(s.last))
end

-- After a write that moves the expiry to new_e (old_e: the previous one, or nil): the hash is
-- kept RETENTION past the expiry (Spring keeps it 5 minutes, so its expiry listeners can still
-- read it), Spring's shadow key expires with the session, the minute bucket lists it, and our
-- sets know it.
local function schedule(key, id, old_e, new_e)
  redis.call('PEXPIREAT', key, fmt(new_e + RETENTION))
  local member = quoted('expires:' .. id)
  if new_e > server_now() then fx('SET', shadow_key(id), '', 'PXAT', fmt(new_e)) else fx('DEL', shadow_key(id)) end
  if old_e and old_e > 0 and bucket_of(old_e) ~= bucket_of(new_e) then fx('SREM', bucket_key(old_e), member) end
  fx('SADD', bucket_key(new_e), member)
  fx('PEXPIREAT', bucket_key(new_e), fmt(bucket_of(new_e) + RETENTION))
  fx('ZADD', EXPIRIES, fmt(new_e), id)
  fx('ZADD', IDS, '0', id)
end

-- Everything about a dead session, gone at once (its id is about to be reused).
local function purge(key, id, s)
  redis.call('DEL', key)
  fx('DEL', shadow_key(id))
  if s then
    if s.expires > 0 then fx('SREM', bucket_key(s.expires), quoted('expires:' .. id)) end
    if s.principal then fx('SREM', index_key(s.principal), quoted(id)) end
  end
  fx('ZREM', EXPIRIES, id)
  fx('ZREM', IDS, id)
end

-- An ended session as Spring's deleteById leaves it: maxInactiveInterval 0, the hash readable
-- for RETENTION (Spring's SessionDeleted/ExpiredEvent listeners load it), out of every index.
local function tombstone(key, id, s)
  redis.call('HSET', key, 'maxInactiveInterval', '0')
  redis.call('PEXPIRE', key, fmt(RETENTION))
  if s.expires > 0 then fx('SREM', bucket_key(s.expires), quoted('expires:' .. id)) end
  if s.principal then fx('SREM', index_key(s.principal), quoted(id)) end
  fx('ZREM', EXPIRIES, id)
  fx('ZREM', IDS, id)
end

-- Sweeps one session: its principal ('' for none) if it expired now, else nil.
local function expire_one(key, id, now)
  local m = hash_of(key)
  if not m then
    -- Gone (renamed by Spring's changeSessionId, or dropped by TTL): not known to have expired.
    fx('ZREM', EXPIRIES, id)
    fx('ZREM', IDS, id)
    return nil
  end
  local s = resolve(m)
  if not s then
    purge(key, id, nil)
    return nil
  end
  if s.expires > now then
    fx('ZADD', EXPIRIES, fmt(s.expires), id) -- Spring used it: look again later
    return nil
  end
  if m['maxInactiveInterval'] == '0' then
    -- Destroyed, not expired (Spring's deleteById does not know our sets).
    if s.principal then fx('SREM', index_key(s.principal), quoted(id)) end
    fx('ZREM', EXPIRIES, id)
    fx('ZREM', IDS, id)
    return nil
  end
  tombstone(key, id, s)
  -- As Spring's cleanup task does: reading the shadow key lets Redis expire it now, which is
  -- the keyspace event Spring turns into a SessionExpiredEvent.
  fx('EXISTS', shadow_key(id))
  return s.principal or ''
end

local function record(s, flat, raw)
  local attrs = {}
  for i = 1, #flat, 2 do
    local f, v = flat[i], flat[i + 1]
    if v ~= '' and f ~= PFIELD and string.sub(f, 1, 12) == 'sessionAttr:' then
      attrs[#attrs + 1] = string.sub(f, 13)
      attrs[#attrs + 1] = v
    end
  end
  return {fmt(s.created), fmt(s.last), fmt(s.issued), fmt(s.idle), fmt(s.abs), fmt(s.expires),
    s.principal or false, fmt(s.version), fmt(s.fence), attrs, raw and flat or false}
end
`,
  [HASH_CHUNKS],
)

function springScript<const K extends readonly string[], const A extends readonly string[], P>(spec: {
  name: string
  keys: K
  args: A
  lua: string
  parse: (payload: RedisReply) => P
}): SpringScript<K, A, P> {
  return defineScript({
    name: `spring-session:${spec.name}`,
    keys: spec.keys,
    args: [...SPRING_ARGS, ...spec.args] as unknown as readonly [...SpringArgs, ...A],
    uses: [SPRING],
    lua: spec.lua,
    parse: (reply) => {
      const [payload, effects] = reply as [RedisReply, string[][] | null]
      return { payload: spec.parse(payload), effects: effects ?? [] }
    },
  })
}

/** LOAD's record (see SPRING's `record`): the session without its id, and the raw hash when asked for. */
export interface SpringRecord {
  session: Omit<StoredSession, 'id'>
  raw: string[] | null
}

function toRecord(r: RedisReply): SpringRecord | null {
  if (r === null) return null
  const [created, last, issued, idle, absolute, expires, principal, version, fence, flat, raw] = r as [
    string, string, string, string, string, string, string | null, string, string, string[], string[] | null,
  ]
  const attributes = new Map<string, string>()
  for (let i = 0; i + 1 < flat.length; i += 2) attributes.set(flat[i] as string, fromSpring(flat[i + 1] as string))
  return {
    session: {
      attributes,
      createdAt: Number(created),
      lastAccessedAt: Number(last),
      idIssuedAt: Number(issued),
      idleTimeoutMs: Number(idle),
      absoluteTimeoutMs: Number(absolute),
      expiresAt: Number(expires),
      principal: principal ?? null,
      version: Number(version),
      fence: Number(fence),
    },
    raw: raw ?? null,
  }
}

const one = (payload: RedisReply) => Number(payload) === 1

/** The record, or null when absent or expired; touched first when its last access is at least `touchIntervalMs` old (-1: never). `raw`: '1' to add the raw hash. */
export const LOAD = springScript({
  name: 'load',
  keys: ['session'],
  args: ['id', 'now', 'touchIntervalMs', 'raw'],
  lua: `
local now, interval = tonumber(now), tonumber(touchIntervalMs)
local m, flat = hash_of(session)
if not m then return {false, effects} end
local s = resolve(m)
if not s or s.expires <= now then return {false, effects} end
if interval >= 0 and now - s.last >= interval then
  local old = s.expires
  s.last = now
  s.expires = math.min(now + s.idle, s.created + s.abs)
  write_state(session, s)
  schedule(session, id, old, s.expires)
end
return {record(s, flat, raw == '1'), effects}
`,
  parse: toRecord,
})

/** `principal`: to index ('' none); `fields`: field/value pairs for the hash. Refuses (SESSIONMESH_EXISTS) a live session with this id. */
export const CREATE = springScript({
  name: 'create',
  keys: ['session'],
  args: ['id', 'now', 'expiresAt', 'principal', '...fields'],
  lua: `
local now, expires = tonumber(now), tonumber(expiresAt)
local m = hash_of(session)
if m then
  local old = resolve(m)
  if old and old.expires > now then return redis.error_reply('SESSIONMESH_EXISTS') end
  purge(session, id, old)
end
hset_chunks(session, fields)
schedule(session, id, nil, expires)
if principal ~= '' then fx('SADD', index_key(principal), quoted(id)) end
return {1, effects}
`,
  parse: (): void => undefined,
})

/**
 * `expectedVersion`, `fence`: '' for none. `principalChange`: '' none, 's' set, 'c' clear;
 * `principal`: the principal as Jackson JSON. `changes`: (op, field, value) triples: op 's'
 * sets the field, 'd' empties it (Spring's removal). Payload: the new version.
 */
export const APPLY = springScript({
  name: 'apply',
  keys: ['session'],
  args: ['id', 'lastAccessedAt', 'expiresAt', 'expectedVersion', 'fence', 'principalChange', 'principal', '...changes'],
  lua: `
local now, expires = tonumber(lastAccessedAt), tonumber(expiresAt)
local m = hash_of(session)
if not m then return redis.error_reply('SESSIONMESH_NOT_FOUND') end
local s = resolve(m)
if not s or s.expires <= now then return redis.error_reply('SESSIONMESH_NOT_FOUND') end
if expectedVersion ~= '' and tonumber(expectedVersion) ~= s.version then return redis.error_reply('SESSIONMESH_VERSION ' .. fmt(s.version)) end
if fence ~= '' then
  local f = tonumber(fence)
  if f < s.fence then return redis.error_reply('SESSIONMESH_FENCE ' .. fmt(s.fence)) end
  s.fence = f
end
local old_p, old_e = s.principal, s.expires
local sets = {}
for i = 1, #changes, 3 do
  local value = (changes[i] == 's') and changes[i + 2] or ''
  sets[#sets + 1] = changes[i + 1]
  sets[#sets + 1] = value
  m[changes[i + 1]] = value
end
if principalChange ~= '' then
  local value = (principalChange == 's') and principal or ''
  sets[#sets + 1] = PFIELD
  sets[#sets + 1] = value
  m[PFIELD] = value
end
hset_chunks(session, sets)
s.version = s.version + 1
s.last, s.expires = now, expires
write_state(session, s)
local new_p = principal_of(m)
if old_p ~= new_p then
  if old_p then fx('SREM', index_key(old_p), quoted(id)) end
  if new_p then fx('SADD', index_key(new_p), quoted(id)) end
end
schedule(session, id, old_e, expires)
return {fmt(s.version), effects}
`,
  parse: (payload) => Number(payload),
})

/** Payload: true, or false (no write) if absent or expired. */
export const TOUCH = springScript({
  name: 'touch',
  keys: ['session'],
  args: ['id', 'lastAccessedAt', 'expiresAt'],
  lua: `
local now, expires = tonumber(lastAccessedAt), tonumber(expiresAt)
local m = hash_of(session)
if not m then return {0, effects} end
local s = resolve(m)
if not s or s.expires <= now then return {0, effects} end
local old = s.expires
s.last, s.expires = now, expires
write_state(session, s)
schedule(session, id, old, expires)
return {1, effects}
`,
  parse: one,
})

/**
 * `mode`: 'tombstone' (as Spring's deleteById) or 'purge' (gone at once); with `version` and
 * `lastAccessedAt`, only if the session still has them.
 * Payload: 'done' (with the principal, null for none), 'absent' (or already destroyed) or 'changed' since.
 */
export const DESTROY = springScript({
  name: 'destroy',
  keys: ['session'],
  args: ['id', 'mode', 'version?', 'lastAccessedAt?'],
  lua: `
local m = hash_of(session)
if not m then return {{0, false}, effects} end
local s = resolve(m)
if not s then
  purge(session, id, nil)
  return {{0, false}, effects}
end
if m['maxInactiveInterval'] == '0' then return {{0, false}, effects} end
if version and version ~= '' and (s.version ~= tonumber(version) or s.last ~= tonumber(lastAccessedAt)) then return {{2, false}, effects} end
if mode == 'purge' then
  purge(session, id, s)
else
  tombstone(session, id, s)
  fx('DEL', shadow_key(id)) -- Spring's deleteById does this too: its SessionDeletedEvent
end
return {{1, s.principal or false}, effects}
`,
  parse: (payload) => {
    const [done, principal] = payload as [number, string | null]
    const n = Number(done)
    return { outcome: n === 1 ? ('done' as const) : n === 2 ? ('changed' as const) : ('absent' as const), principal: principal ?? null }
  },
})

/**
 * Off Cluster only. As Spring's changeSessionId: RENAME of the hash and shadow key, index
 * entries moved. Payload: true, or false if the old session is absent or expired.
 */
export const CHANGE_ID = springScript({
  name: 'change-id',
  keys: ['oldSession', 'newSession'],
  args: ['oldId', 'newId', 'now'],
  lua: `
local now = tonumber(now)
local m = hash_of(oldSession)
if not m then return {0, effects} end
local s = resolve(m)
if not s or s.expires <= now then return {0, effects} end
local t = hash_of(newSession)
if t then
  local ts = resolve(t)
  if ts and ts.expires > now then return redis.error_reply('SESSIONMESH_EXISTS') end
  purge(newSession, newId, ts)
end
redis.call('RENAME', oldSession, newSession)
if redis.call('EXISTS', shadow_key(oldId)) == 1 then redis.call('RENAME', shadow_key(oldId), shadow_key(newId)) end
s.issued = now
write_state(newSession, s)
if s.principal then
  redis.call('SREM', index_key(s.principal), quoted(oldId))
  redis.call('SADD', index_key(s.principal), quoted(newId))
end
if s.expires > 0 then
  redis.call('SREM', bucket_key(s.expires), quoted('expires:' .. oldId))
  redis.call('SADD', bucket_key(s.expires), quoted('expires:' .. newId))
end
redis.call('ZREM', EXPIRIES, oldId)
redis.call('ZREM', IDS, oldId)
redis.call('ZADD', EXPIRIES, fmt(s.expires), newId)
redis.call('ZADD', IDS, '0', newId)
return {1, effects}
`,
  parse: one,
})

type Expired = { id: string; principal: string | null }

/** Off Cluster only. `expiries`: our expiry set. Payload: how many were due, and those of them that expired. */
export const SWEEP = springScript({
  name: 'sweep',
  keys: ['expiries'],
  args: ['now', 'limit'],
  lua: `
local t = tonumber(now)
local due = redis.call('ZRANGEBYSCORE', expiries, '-inf', now, 'LIMIT', 0, tonumber(limit))
local out = {}
for _, id in ipairs(due) do
  local p = expire_one(session_key(id), id, t)
  if p then
    out[#out + 1] = id
    out[#out + 1] = p
  end
end
return {{#due, out}, effects}
`,
  parse: (payload) => {
    const [due, flat] = payload as [number, string[]]
    const expired: Expired[] = []
    for (let i = 0; i + 1 < flat.length; i += 2) expired.push({ id: flat[i] as string, principal: flat[i + 1] || null })
    return { due: Number(due), expired }
  },
})

/** Cluster: takes the due ids out of our expiry set (`expiries`), so each is then this caller's alone. Payload: the ids. */
export const CLAIM = springScript({
  name: 'claim',
  keys: ['expiries'],
  args: ['now', 'limit'],
  lua: `
local due = redis.call('ZRANGEBYSCORE', expiries, '-inf', now, 'LIMIT', 0, tonumber(limit))
if #due > 0 then redis.call('ZREM', expiries, unpack(due)) end
return {due, effects}
`,
  parse: (payload) => payload as string[],
})

/** Cluster: sweeps one session. Payload: whether it expired now, and its principal (null for none). */
export const EXPIRE_ONE = springScript({
  name: 'expire-one',
  keys: ['session'],
  args: ['id', 'now'],
  lua: `
local p = expire_one(session, id, tonumber(now))
if p then return {{1, p}, effects} end
return {{0}, effects}
`,
  parse: (payload) => {
    const [hit, principal] = payload as [number, string?]
    return { expired: Number(hit) === 1, principal: principal || null }
  },
})

/**
 * The session lock in Spring's hash (its other keys are in other slots on Cluster): fields
 * `sessionmesh:lockOwner` and `sessionmesh:lockUntil` (epoch ms by the callers' clocks),
 * which Spring ignores. Payload: the raised fence, or null if another owner's lease is unexpired.
 */
export const LOCK = springScript({
  name: 'lock',
  keys: ['session'],
  args: ['id', 'now', 'owner', 'ttlMs'],
  lua: `
local now, ttl = tonumber(now), tonumber(ttlMs)
local m = hash_of(session)
if not m then return redis.error_reply('SESSIONMESH_NOT_FOUND') end
local s = resolve(m)
if not s or s.expires <= now then return redis.error_reply('SESSIONMESH_NOT_FOUND') end
local holder, until_ = m['sessionmesh:lockOwner'], tonumber(m['sessionmesh:lockUntil'] or '0')
if holder and holder ~= owner and until_ > now then return {0, effects} end
s.fence = s.fence + 1
write_state(session, s)
redis.call('HSET', session, 'sessionmesh:lockOwner', owner, 'sessionmesh:lockUntil', fmt(now + ttl))
return {fmt(s.fence), effects}
`,
  parse: (payload) => {
    const fence = Number(payload)
    return fence === 0 ? null : fence
  },
})

/** Payload: true if this owner's unexpired lease was extended. */
export const EXTEND_LOCK = springScript({
  name: 'extendLock',
  keys: ['session'],
  args: ['id', 'now', 'owner', 'ttlMs'],
  lua: `
local now, ttl = tonumber(now), tonumber(ttlMs)
local lease = redis.call('HMGET', session, 'sessionmesh:lockOwner', 'sessionmesh:lockUntil')
if lease[1] ~= owner or tonumber(lease[2] or '0') <= now then return {0, effects} end
redis.call('HSET', session, 'sessionmesh:lockUntil', fmt(now + ttl))
return {1, effects}
`,
  parse: one,
})

/** Payload: true if released (only this owner's lease). */
export const UNLOCK = springScript({
  name: 'unlock',
  keys: ['session'],
  args: ['id', 'owner'],
  lua: `
if redis.call('HGET', session, 'sessionmesh:lockOwner') ~= owner then return {0, effects} end
redis.call('HDEL', session, 'sessionmesh:lockOwner', 'sessionmesh:lockUntil')
return {1, effects}
`,
  parse: one,
})

/** Payload: the raised fence (quorum locks). */
export const RAISE_FENCE = springScript({
  name: 'raiseFence',
  keys: ['session'],
  args: ['id', 'now'],
  lua: `
local now = tonumber(now)
local m = hash_of(session)
if not m then return redis.error_reply('SESSIONMESH_NOT_FOUND') end
local s = resolve(m)
if not s or s.expires <= now then return redis.error_reply('SESSIONMESH_NOT_FOUND') end
s.fence = s.fence + 1
write_state(session, s)
return {fmt(s.fence), effects}
`,
  parse: (payload) => Number(payload),
})
