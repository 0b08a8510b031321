/**
 * The store's Lua scripts: each store operation is one of these, run atomically on the
 * node that owns the session's slot. Replies that are refusals come back as error replies
 * `SESSIONMESH_<WHAT> <detail>` and are turned into typed errors by the store.
 *
 * Hash fields: #c created, #l last access, #i id issued, #it idle ms, #at absolute ms,
 * #e expiresAt, #p principal (absent: none), #v version, #f fence; attributes `a:<name>`.
 *
 * Principal index ("inline" mode, one node: standalone or Sentinel): the scripts keep
 * `<prefix>u:{<principal>}` in step in the same call. On Cluster that key lives in another
 * slot, so the scripts return the old principal and the store updates the index in its
 * own step, ordered so the index is always a superset of the truth (added before, removed
 * after); readers verify members, so a stale entry costs a check, never a missed session.
 */
import { Script } from './connection.js'

/** Shared Lua helpers, prepended to scripts that need them. */
const LIB = `
local function hset_chunks(key, list)
  for i = 1, #list, 200 do
    redis.call('HSET', key, unpack(list, i, math.min(i + 199, #list)))
  end
end
local function hdel_chunks(key, list)
  for i = 1, #list, 200 do
    redis.call('HDEL', key, unpack(list, i, math.min(i + 199, #list)))
  end
end
local function index_add(ikey, id, deadline, now)
  redis.call('ZADD', ikey, deadline, id)
  redis.call('ZREMRANGEBYSCORE', ikey, '-inf', now)
end
`

/**
 * KEYS: session, bucket expiries. ARGV: id, now, touchIntervalMs (-1: never), retentionMs.
 * Returns the hash as a flat array, or nil if absent or expired; touches it first when due.
 */
export const LOAD = new Script(
  'load',
  `
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return nil end
local at = {}
for i = 1, #h, 2 do at[h[i]] = i + 1 end
local now = tonumber(ARGV[2])
if not at['#e'] or tonumber(h[at['#e']]) <= now then return nil end
local interval = tonumber(ARGV[3])
if interval >= 0 and now - tonumber(h[at['#l']]) >= interval then
  local e = math.min(now + tonumber(h[at['#it']]), tonumber(h[at['#c']]) + tonumber(h[at['#at']]))
  local es = string.format('%.0f', e)
  redis.call('HSET', KEYS[1], '#l', ARGV[2], '#e', es)
  redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', e + tonumber(ARGV[4])))
  redis.call('ZADD', KEYS[2], es, ARGV[1])
  h[at['#l']] = ARGV[2]
  h[at['#e']] = es
end
return h
`,
)

/**
 * KEYS: session, bucket expiries[, principal index (inline mode, when a principal is set)].
 * ARGV: id, now, expiresAt, retentionMs, deadline (index score), then field/value pairs.
 */
export const CREATE = new Script(
  'create',
  `${LIB}
local e = redis.call('HGET', KEYS[1], '#e')
local now = tonumber(ARGV[2])
if e and tonumber(e) > now then return redis.error_reply('SESSIONMESH_EXISTS') end
if e then redis.call('DEL', KEYS[1]) end
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
hset_chunks(KEYS[1], fields)
redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', tonumber(ARGV[3]) + tonumber(ARGV[4])))
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
-- Entries nobody swept within the retention are dropped with their (already expired) keys.
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. string.format('%.0f', now - tonumber(ARGV[4])))
if KEYS[3] then index_add(KEYS[3], ARGV[1], ARGV[5], ARGV[2]) end
return 1
`,
)

/**
 * KEYS: session, bucket expiries[, new principal's index (inline mode, principal set)].
 * ARGV: id, lastAccessedAt, expiresAt, retentionMs, expectedVersion ('' none), fence ('' none),
 * principal op ('' keep, 's' set, 'c' clear), principal, index prefix ('' not inline),
 * then op/name/value triples (op 's' set or 'd' delete).
 * Returns { version, old principal or '' }.
 */
export const APPLY = new Script(
  'apply',
  `${LIB}
local m = redis.call('HMGET', KEYS[1], '#e', '#v', '#f', '#p', '#c', '#at')
local now = tonumber(ARGV[2])
if not m[1] or tonumber(m[1]) <= now then return redis.error_reply('SESSIONMESH_NOT_FOUND') end
if ARGV[5] ~= '' and tonumber(ARGV[5]) ~= tonumber(m[2]) then return redis.error_reply('SESSIONMESH_VERSION ' .. m[2]) end
if ARGV[6] ~= '' and tonumber(ARGV[6]) < tonumber(m[3]) then return redis.error_reply('SESSIONMESH_FENCE ' .. m[3]) end
local sets, dels = {}, {}
for i = 10, #ARGV, 3 do
  if ARGV[i] == 's' then
    sets[#sets + 1] = 'a:' .. ARGV[i + 1]
    sets[#sets + 1] = ARGV[i + 2]
  else
    dels[#dels + 1] = 'a:' .. ARGV[i + 1]
  end
end
hdel_chunks(KEYS[1], dels)
sets[#sets + 1] = '#l'
sets[#sets + 1] = ARGV[2]
sets[#sets + 1] = '#e'
sets[#sets + 1] = ARGV[3]
if ARGV[6] ~= '' then
  sets[#sets + 1] = '#f'
  sets[#sets + 1] = ARGV[6]
end
if ARGV[7] == 's' then
  sets[#sets + 1] = '#p'
  sets[#sets + 1] = ARGV[8]
elseif ARGV[7] == 'c' then
  redis.call('HDEL', KEYS[1], '#p')
end
hset_chunks(KEYS[1], sets)
local v = redis.call('HINCRBY', KEYS[1], '#v', 1)
redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', tonumber(ARGV[3]) + tonumber(ARGV[4])))
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
local old = m[4] or ''
if ARGV[9] ~= '' and ARGV[7] ~= '' and old ~= ARGV[8] then
  if old ~= '' then redis.call('ZREM', ARGV[9] .. '{' .. old .. '}', ARGV[1]) end
  if ARGV[7] == 's' then
    index_add(KEYS[3], ARGV[1], string.format('%.0f', tonumber(m[5]) + tonumber(m[6])), ARGV[2])
  end
end
return { v, old }
`,
)

/** KEYS: session, bucket expiries. ARGV: id, lastAccessedAt, expiresAt, retentionMs. 1 if touched. */
export const TOUCH = new Script(
  'touch',
  `
local e = redis.call('HGET', KEYS[1], '#e')
if not e or tonumber(e) <= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], '#l', ARGV[2], '#e', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', tonumber(ARGV[3]) + tonumber(ARGV[4])))
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
`,
)

/**
 * KEYS: session, bucket expiries. ARGV: id, index prefix ('' not inline).
 * Returns { existed (0/1), principal or '' }.
 */
export const DESTROY = new Script(
  'destroy',
  `
local p = redis.call('HGET', KEYS[1], '#p') or ''
local existed = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] ~= '' and p ~= '' then redis.call('ZREM', ARGV[2] .. '{' .. p .. '}', ARGV[1]) end
return { existed, p }
`,
)

/**
 * One node (inline mode) only. KEYS: old session, old bucket expiries, new session, new
 * bucket expiries. ARGV: old id, new id, now, index prefix ('' none).
 * 0 if the old session is absent or expired; error SESSIONMESH_EXISTS if the new id is live.
 */
export const CHANGE_ID = new Script(
  'changeId',
  `
local now = tonumber(ARGV[3])
local m = redis.call('HMGET', KEYS[1], '#e', '#p', '#c', '#at')
if not m[1] or tonumber(m[1]) <= now then return 0 end
local taken = redis.call('HGET', KEYS[3], '#e')
if taken and tonumber(taken) > now then return redis.error_reply('SESSIONMESH_EXISTS') end
-- RENAME keeps the TTL and replaces an expired leftover under the new id.
redis.call('RENAME', KEYS[1], KEYS[3])
redis.call('HSET', KEYS[3], '#i', ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[4], m[1], ARGV[2])
if ARGV[4] ~= '' and m[2] then
  local ikey = ARGV[4] .. '{' .. m[2] .. '}'
  redis.call('ZREM', ikey, ARGV[1])
  redis.call('ZADD', ikey, string.format('%.0f', tonumber(m[3]) + tonumber(m[4])), ARGV[2])
end
return 1
`,
)

/**
 * Cluster changeId, last step: removes the old session only if it is still at the version
 * that was copied (a write in between makes the caller copy again). KEYS: old session, old
 * bucket expiries. ARGV: old id, copied version. 1 removed, 0 changed meanwhile, -1 gone.
 */
export const REMOVE_IF_VERSION = new Script(
  'removeIfVersion',
  `
local v = redis.call('HGET', KEYS[1], '#v')
if not v then return -1 end
if v ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`,
)

/**
 * KEYS: bucket expiries, then the candidates' session keys (same slot). ARGV: now, then the
 * candidates' ids. Removes each candidate that is still due and returns { id, principal }
 * pairs; the ZREM makes each expiry reported by exactly one sweep.
 */
export const SWEEP = new Script(
  'sweep',
  `
local now = tonumber(ARGV[1])
local out = {}
for i = 2, #KEYS do
  local id = ARGV[i]
  local score = redis.call('ZSCORE', KEYS[1], id)
  if score and tonumber(score) <= now then
    local m = redis.call('HMGET', KEYS[i], '#e', '#p')
    if not m[1] or tonumber(m[1]) <= now then
      redis.call('DEL', KEYS[i])
      redis.call('ZREM', KEYS[1], id)
      out[#out + 1] = id
      out[#out + 1] = m[2] or ''
    else
      -- Extended after the candidate list was read: keep it, with its current expiry.
      redis.call('ZADD', KEYS[1], m[1], id)
    end
  end
end
return out
`,
)

/** KEYS: principal index. ARGV: id, deadline, now. Adds an id (Cluster mode's separate index step). */
export const INDEX_ADD = new Script(
  'indexAdd',
  `
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
return 1
`,
)

/** KEYS: lease. ARGV: owner token, ttl ms. 1 if this owner holds the lease now (taken or extended). */
export const LEASE = new Script(
  'lease',
  `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`,
)
