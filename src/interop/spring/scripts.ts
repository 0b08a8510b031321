/**
 * Lua for the Spring Session layout. Every script starts with LIB and takes the same first
 * four arguments: ARGV[1] the key namespace with its trailing `:`, ARGV[2] `1` on Redis
 * Cluster, ARGV[3] how long an expired session's hash is kept (ms), ARGV[4] the absolute
 * timeout given to sessions Spring created (ms). Script arguments start at ARGV[5].
 *
 * Spring's keys for one session are in different hash slots (Spring uses no hash tags), so:
 * - standalone / Sentinel: one script does everything, the session hash and Spring's other
 *   keys (shadow key, minute bucket, principal index) and ours (expiry and id sets); the
 *   other keys are reached by name from inside the script, which Redis allows off Cluster.
 * - Cluster: the script only touches the key it was given; writes to other keys are returned
 *   as "effects" (`{command, key, args...}`) that the store runs right after, in order.
 *
 * Every script returns `{payload, effects}`; refusals are error replies `SESSIONMESH_<WHAT>`.
 */
import { Script } from '../../stores/redis/connection.js'

const LIB = `
local NS = ARGV[1]
local CLUSTER = ARGV[2] == '1'
local RETENTION = tonumber(ARGV[3])
local ADOPT_ABS = tonumber(ARGV[4])
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

local function hset_chunks(key, list)
  for i = 1, #list, 200 do
    redis.call('HSET', key, unpack(list, i, math.min(i + 199, #list)))
  end
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
`

const script = (name: string, body: string) => new Script(`spring-session:${name}`, LIB + body)

/**
 * KEYS: session. ARGV[5..]: id, now, touchIntervalMs (-1: never), '1' to add the raw hash.
 * Payload: the record (see LIB `record`), or nil when absent or expired; touched first when due.
 */
export const LOAD = script(
  'load',
  `
local key, id, now, interval = KEYS[1], ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local m, flat = hash_of(key)
if not m then return {false, effects} end
local s = resolve(m)
if not s or s.expires <= now then return {false, effects} end
if interval >= 0 and now - s.last >= interval then
  local old = s.expires
  s.last = now
  s.expires = math.min(now + s.idle, s.created + s.abs)
  write_state(key, s)
  schedule(key, id, old, s.expires)
end
return {record(s, flat, ARGV[8] == '1'), effects}
`,
)

/**
 * KEYS: session. ARGV[5..]: id, now (the new session's last access), expiresAt, principal to
 * index ('' none), then field/value pairs for the hash. Refuses a live session with this id.
 */
export const CREATE = script(
  'create',
  `
local key, id, now, expires, principal = KEYS[1], ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
local m = hash_of(key)
if m then
  local old = resolve(m)
  if old and old.expires > now then return redis.error_reply('SESSIONMESH_EXISTS') end
  purge(key, id, old)
end
local fields = {}
for i = 9, #ARGV do fields[#fields + 1] = ARGV[i] end
hset_chunks(key, fields)
schedule(key, id, nil, expires)
if principal ~= '' then fx('SADD', index_key(principal), quoted(id)) end
return {1, effects}
`,
)

/**
 * KEYS: session. ARGV[5..]: id, lastAccessedAt, expiresAt, expectedVersion (''), fence (''),
 * principal change ('' none, 's' set, 'c' clear), the principal as Jackson JSON, then
 * (op, field, value) triples: op 's' sets the field, 'd' empties it (Spring's removal).
 * Payload: the new version.
 */
export const APPLY = script(
  'apply',
  `
local key, id, now, expires = KEYS[1], ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local m = hash_of(key)
if not m then return redis.error_reply('SESSIONMESH_NOT_FOUND') end
local s = resolve(m)
if not s or s.expires <= now then return redis.error_reply('SESSIONMESH_NOT_FOUND') end
if ARGV[8] ~= '' and tonumber(ARGV[8]) ~= s.version then return redis.error_reply('SESSIONMESH_VERSION ' .. fmt(s.version)) end
if ARGV[9] ~= '' then
  local fence = tonumber(ARGV[9])
  if fence < s.fence then return redis.error_reply('SESSIONMESH_FENCE ' .. fmt(s.fence)) end
  s.fence = fence
end
local old_p, old_e = s.principal, s.expires
local sets = {}
for i = 12, #ARGV, 3 do
  local value = (ARGV[i] == 's') and ARGV[i + 2] or ''
  sets[#sets + 1] = ARGV[i + 1]
  sets[#sets + 1] = value
  m[ARGV[i + 1]] = value
end
if ARGV[10] ~= '' then
  local value = (ARGV[10] == 's') and ARGV[11] or ''
  sets[#sets + 1] = PFIELD
  sets[#sets + 1] = value
  m[PFIELD] = value
end
hset_chunks(key, sets)
s.version = s.version + 1
s.last, s.expires = now, expires
write_state(key, s)
local new_p = principal_of(m)
if old_p ~= new_p then
  if old_p then fx('SREM', index_key(old_p), quoted(id)) end
  if new_p then fx('SADD', index_key(new_p), quoted(id)) end
end
schedule(key, id, old_e, expires)
return {fmt(s.version), effects}
`,
)

/** KEYS: session. ARGV[5..]: id, lastAccessedAt, expiresAt. Payload: 1, or 0 (no write) if absent or expired. */
export const TOUCH = script(
  'touch',
  `
local key, id, now, expires = KEYS[1], ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local m = hash_of(key)
if not m then return {0, effects} end
local s = resolve(m)
if not s or s.expires <= now then return {0, effects} end
local old = s.expires
s.last, s.expires = now, expires
write_state(key, s)
schedule(key, id, old, expires)
return {1, effects}
`,
)

/**
 * KEYS: session. ARGV[5..]: id, mode ('tombstone': as Spring's deleteById; 'purge': gone at
 * once), and optionally the version and last access it must still have.
 * Payload: {1 done | 0 absent or already destroyed | 2 changed since, principal or nil}.
 */
export const DESTROY = script(
  'destroy',
  `
local key, id, mode = KEYS[1], ARGV[5], ARGV[6]
local m = hash_of(key)
if not m then return {{0, false}, effects} end
local s = resolve(m)
if not s then
  purge(key, id, nil)
  return {{0, false}, effects}
end
if m['maxInactiveInterval'] == '0' then return {{0, false}, effects} end
if ARGV[7] and ARGV[7] ~= '' and (s.version ~= tonumber(ARGV[7]) or s.last ~= tonumber(ARGV[8])) then return {{2, false}, effects} end
if mode == 'purge' then
  purge(key, id, s)
else
  tombstone(key, id, s)
  fx('DEL', shadow_key(id)) -- Spring's deleteById does this too: its SessionDeletedEvent
end
return {{1, s.principal or false}, effects}
`,
)

/**
 * Off Cluster only. KEYS: old session, new session. ARGV[5..]: old id, new id, now.
 * As Spring's changeSessionId: RENAME of the hash and shadow key, index entries moved.
 * Payload: 1, or 0 if the old session is absent or expired.
 */
export const CHANGE_ID = script(
  'change-id',
  `
local old_id, new_id, now = ARGV[5], ARGV[6], tonumber(ARGV[7])
local m = hash_of(KEYS[1])
if not m then return {0, effects} end
local s = resolve(m)
if not s or s.expires <= now then return {0, effects} end
local t = hash_of(KEYS[2])
if t then
  local ts = resolve(t)
  if ts and ts.expires > now then return redis.error_reply('SESSIONMESH_EXISTS') end
  purge(KEYS[2], new_id, ts)
end
redis.call('RENAME', KEYS[1], KEYS[2])
if redis.call('EXISTS', shadow_key(old_id)) == 1 then redis.call('RENAME', shadow_key(old_id), shadow_key(new_id)) end
s.issued = now
write_state(KEYS[2], s)
if s.principal then
  redis.call('SREM', index_key(s.principal), quoted(old_id))
  redis.call('SADD', index_key(s.principal), quoted(new_id))
end
if s.expires > 0 then
  redis.call('SREM', bucket_key(s.expires), quoted('expires:' .. old_id))
  redis.call('SADD', bucket_key(s.expires), quoted('expires:' .. new_id))
end
redis.call('ZREM', EXPIRIES, old_id)
redis.call('ZREM', IDS, old_id)
redis.call('ZADD', EXPIRIES, fmt(s.expires), new_id)
redis.call('ZADD', IDS, '0', new_id)
return {1, effects}
`,
)

/**
 * Off Cluster only. KEYS: our expiry set. ARGV[5..]: now, limit.
 * Payload: {how many were due, {id, principal ('' none), ...} of those that expired}.
 */
export const SWEEP = script(
  'sweep',
  `
local now = tonumber(ARGV[5])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[5], 'LIMIT', 0, tonumber(ARGV[6]))
local out = {}
for _, id in ipairs(due) do
  local p = expire_one(session_key(id), id, now)
  if p then
    out[#out + 1] = id
    out[#out + 1] = p
  end
end
return {{#due, out}, effects}
`,
)

/** Cluster: KEYS: our expiry set. ARGV[5..]: now, limit. Takes the due ids out of the set: each is then this caller's alone. */
export const CLAIM = script(
  'claim',
  `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[5], 'LIMIT', 0, tonumber(ARGV[6]))
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return {due, effects}
`,
)

/** Cluster: KEYS: session. ARGV[5..]: id, now. Payload: {1, principal or ''} if it expired, else {0}. */
export const EXPIRE_ONE = script(
  'expire-one',
  `
local p = expire_one(KEYS[1], ARGV[5], tonumber(ARGV[6]))
if p then return {{1, p}, effects} end
return {{0}, effects}
`,
)

/**
 * The session lock in Spring's hash (its other keys are in other slots on Cluster): fields
 * `sessionmesh:lockOwner` and `sessionmesh:lockUntil` (epoch ms by the callers' clocks),
 * which Spring ignores. KEYS: session. ARGV[5..]: id, now, owner, ttl ms.
 * Payload: the raised fence, or 0 if another owner's lease is unexpired.
 */
export const LOCK = script(
  'lock',
  `
local key, now, owner, ttl = KEYS[1], tonumber(ARGV[6]), ARGV[7], tonumber(ARGV[8])
local m = hash_of(key)
if not m then return redis.error_reply('SESSIONMESH_NOT_FOUND') end
local s = resolve(m)
if not s or s.expires <= now then return redis.error_reply('SESSIONMESH_NOT_FOUND') end
local holder, until_ = m['sessionmesh:lockOwner'], tonumber(m['sessionmesh:lockUntil'] or '0')
if holder and holder ~= owner and until_ > now then return {0, effects} end
s.fence = s.fence + 1
write_state(key, s)
redis.call('HSET', key, 'sessionmesh:lockOwner', owner, 'sessionmesh:lockUntil', fmt(now + ttl))
return {fmt(s.fence), effects}
`,
)

/** KEYS: session. ARGV[5..]: id, now, owner, ttl ms. Payload 1 if this owner's unexpired lease was extended. */
export const EXTEND_LOCK = script(
  'extendLock',
  `
local key, now, owner, ttl = KEYS[1], tonumber(ARGV[6]), ARGV[7], tonumber(ARGV[8])
local lease = redis.call('HMGET', key, 'sessionmesh:lockOwner', 'sessionmesh:lockUntil')
if lease[1] ~= owner or tonumber(lease[2] or '0') <= now then return {0, effects} end
redis.call('HSET', key, 'sessionmesh:lockUntil', fmt(now + ttl))
return {1, effects}
`,
)

/** KEYS: session. ARGV[5..]: id, owner. Payload 1 if released (only this owner's lease). */
export const UNLOCK = script(
  'unlock',
  `
if redis.call('HGET', KEYS[1], 'sessionmesh:lockOwner') ~= ARGV[6] then return {0, effects} end
redis.call('HDEL', KEYS[1], 'sessionmesh:lockOwner', 'sessionmesh:lockUntil')
return {1, effects}
`,
)

/** KEYS: session. ARGV[5..]: id, now. Payload: the raised fence (quorum locks). */
export const RAISE_FENCE = script(
  'raiseFence',
  `
local key, now = KEYS[1], tonumber(ARGV[6])
local m = hash_of(key)
if not m then return redis.error_reply('SESSIONMESH_NOT_FOUND') end
local s = resolve(m)
if not s or s.expires <= now then return redis.error_reply('SESSIONMESH_NOT_FOUND') end
s.fence = s.fence + 1
write_state(key, s)
return {fmt(s.fence), effects}
`,
)
