/**
 * The store's Lua scripts: each store operation is one of these, run atomically on the
 * node that owns the session's slot. Replies that are refusals come back as error replies
 * `SESSIONMESH_<WHAT> <detail>` and are turned into typed errors by the store.
 *
 * Hash fields: #c created, #l last access, #i id issued, #it idle ms, #at absolute ms,
 * #e expiresAt, #p principal (absent: none), #v version, #f fence (raised by every lock
 * taken; a save carrying a lower one is refused); attributes `a:<name>`. A session's lease
 * lock is the string `<prefix>{bucket}:l:<id>` in the same slot.
 *
 * Change feed: every script that changes or removes a session publishes `<version> <id>`
 * (`- <id>` when it is gone or renamed) on the store's channel in the same atomic step, so a
 * near cache elsewhere hears of every change even if the writer dies right after it. PUBLISH
 * is not a key: it runs on any node, and Redis Cluster forwards it to every node.
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
 * Atomic attribute operations on stored JSON text, the same rules as src/core/ops.ts.
 * Values are spliced as text (never decoded and re-encoded by cjson, which would round
 * numbers to 14 digits): an array gets one more element before its `]`; an object is split
 * into its top-level fields, which are replaced or added.
 */
const OPS = `
local function trim(s) return (s:gsub('^%s+', ''):gsub('%s+$', '')) end
local function str_end(s, j)
  j = j + 1
  while j <= #s do
    local c = s:byte(j)
    if c == 92 then j = j + 2 elseif c == 34 then return j else j = j + 1 end
  end
  return nil
end
-- Index of the last character of the JSON value starting at j.
local function value_end(s, j)
  local c = s:byte(j)
  if c == 34 then return str_end(s, j) end
  if c == 123 or c == 91 then
    local depth = 0
    while j <= #s do
      c = s:byte(j)
      if c == 34 then
        j = str_end(s, j)
        if not j then return nil end
      elseif c == 123 or c == 91 then depth = depth + 1
      elseif c == 125 or c == 93 then
        depth = depth - 1
        if depth == 0 then return j end
      end
      j = j + 1
    end
    return nil
  end
  local e = s:find('[,}%]%s]', j)
  return e and e - 1 or #s
end
-- The top-level fields of a JSON object as raw key and value texts, or nil if not an object.
local function fields_of(s)
  s = trim(s)
  if s:byte(1) ~= 123 then return nil end
  local keys, vals, i = {}, {}, 2
  local function ws() i = s:find('[^%s]', i) or (#s + 1) end
  ws()
  if s:byte(i) == 125 then return keys, vals end
  while true do
    ws()
    if s:byte(i) ~= 34 then return nil end
    local ke = str_end(s, i)
    if not ke then return nil end
    keys[#keys + 1] = s:sub(i, ke)
    i = ke + 1
    ws()
    if s:byte(i) ~= 58 then return nil end
    i = i + 1
    ws()
    local ve = value_end(s, i)
    if not ve or ve < i then return nil end
    vals[#vals + 1] = s:sub(i, ve)
    i = ve + 1
    ws()
    local c = s:byte(i)
    if c == 125 then return keys, vals end
    if c ~= 44 then return nil end
    i = i + 1
  end
end
local function refuse_type(expected, name) return redis.error_reply('SESSIONMESH_TYPE ' .. expected .. ' ' .. name) end
-- The new text of an attribute after op ('i' increment, 'a' append, 'm' merge), or nil and an error reply.
local function atomic(op, name, cur, arg)
  if op == 'i' then
    local n = 0
    if cur then
      local t = trim(cur)
      if not t:find('^%-?%d') then return nil, refuse_type('number', name) end
      n = tonumber(t)
      if not n then return nil, refuse_type('number', name) end
    end
    n = n + tonumber(arg)
    if n ~= n or n == math.huge or n == -math.huge then return nil, refuse_type('number', name) end
    return string.format('%.17g', n)
  elseif op == 'a' then
    if not cur then return '[' .. arg .. ']' end
    local t = trim(cur)
    if t:byte(1) ~= 91 then return nil, refuse_type('array', name) end
    if trim(t:sub(2, -2)) == '' then return '[' .. arg .. ']' end
    return t:sub(1, -2) .. ',' .. arg .. ']'
  else
    local keys, vals = {}, {}
    if cur then
      keys, vals = fields_of(cur)
      if not keys then return nil, refuse_type('object', name) end
    end
    local nk, nv = fields_of(arg)
    local at = {}
    for j = 1, #keys do at[keys[j]] = j end
    for j = 1, #nk do
      local k = nk[j]
      if at[k] then vals[at[k]] = nv[j] else
        keys[#keys + 1] = k
        vals[#vals + 1] = nv[j]
        at[k] = #keys
      end
    end
    local parts = {}
    for j = 1, #keys do parts[j] = keys[j] .. ':' .. vals[j] end
    return '{' .. table.concat(parts, ',') .. '}'
  end
end
`

/**
 * KEYS: session, bucket expiries[, new principal's index (inline mode, principal set)].
 * ARGV: id, lastAccessedAt, expiresAt, retentionMs, expectedVersion ('' none), fence ('' none),
 * principal op ('' keep, 's' set, 'c' clear), principal, index prefix ('' not inline),
 * maxValueBytes ('' none), change channel, then op/name/value triples (op 's' set, 'd' delete,
 * or an atomic op 'i' increment by value, 'a' append element value, 'm' merge object value).
 * Returns { version, old principal or '', then name/new value pairs of the atomic ops }.
 * Every check, atomic results included, happens before the first write: Redis does not roll
 * a script back, so a refusal must come before anything changed.
 */
export const APPLY = new Script(
  'apply',
  `${LIB}${OPS}
local m = redis.call('HMGET', KEYS[1], '#e', '#v', '#f', '#p', '#c', '#at')
local now = tonumber(ARGV[2])
if not m[1] or tonumber(m[1]) <= now then return redis.error_reply('SESSIONMESH_NOT_FOUND') end
if ARGV[5] ~= '' and tonumber(ARGV[5]) ~= tonumber(m[2]) then return redis.error_reply('SESSIONMESH_VERSION ' .. m[2]) end
if ARGV[6] ~= '' and tonumber(ARGV[6]) < tonumber(m[3]) then return redis.error_reply('SESSIONMESH_FENCE ' .. m[3]) end
local max = tonumber(ARGV[10])
local sets, dels, results, computed = {}, {}, {}, {}
for i = 12, #ARGV, 3 do
  local op, name = ARGV[i], ARGV[i + 1]
  if op == 's' then
    sets[#sets + 1] = 'a:' .. name
    sets[#sets + 1] = ARGV[i + 2]
  elseif op == 'd' then
    dels[#dels + 1] = 'a:' .. name
  else
    local cur = computed[name]
    if not cur then cur = redis.call('HGET', KEYS[1], 'a:' .. name) or nil end
    local v, err = atomic(op, name, cur, ARGV[i + 2])
    if not v then return err end
    if max and #v > max then return redis.error_reply('SESSIONMESH_TOO_LARGE ' .. #v .. ' ' .. ARGV[10]) end
    computed[name] = v
    sets[#sets + 1] = 'a:' .. name
    sets[#sets + 1] = v
    results[#results + 1] = name
    results[#results + 1] = v
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
redis.call('PUBLISH', ARGV[11], v .. ' ' .. ARGV[1])
local old = m[4] or ''
if ARGV[9] ~= '' and ARGV[7] ~= '' and old ~= ARGV[8] then
  if old ~= '' then redis.call('ZREM', ARGV[9] .. '{' .. old .. '}', ARGV[1]) end
  if ARGV[7] == 's' then
    index_add(KEYS[3], ARGV[1], string.format('%.0f', tonumber(m[5]) + tonumber(m[6])), ARGV[2])
  end
end
local out = { v, old }
for j = 1, #results do out[#out + 1] = results[j] end
return out
`,
)

/**
 * KEYS: session, its lock. ARGV: owner, ttl ms, now. Takes (or renews, for the same owner)
 * the lease and raises the session's fence: returns the fence, or 0 if another owner holds it.
 */
export const LOCK = new Script(
  'lock',
  `
local e = redis.call('HGET', KEYS[1], '#e')
if not e or tonumber(e) <= tonumber(ARGV[3]) then return redis.error_reply('SESSIONMESH_NOT_FOUND') end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return redis.call('HINCRBY', KEYS[1], '#f', 1)
`,
)

/** KEYS: lock. ARGV: owner, ttl ms. 1 if extended (this owner still holds it). */
export const EXTEND_LOCK = new Script(
  'extendLock',
  `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
`,
)

/** KEYS: lock. ARGV: owner. 1 if released; another owner's lease is never touched. */
export const UNLOCK = new Script(
  'unlock',
  `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`,
)

/** KEYS: session. ARGV: now. Raises the fence without a lease (quorum locks). */
export const RAISE_FENCE = new Script(
  'raiseFence',
  `
local e = redis.call('HGET', KEYS[1], '#e')
if not e or tonumber(e) <= tonumber(ARGV[1]) then return redis.error_reply('SESSIONMESH_NOT_FOUND') end
return redis.call('HINCRBY', KEYS[1], '#f', 1)
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
 * KEYS: session, bucket expiries. ARGV: id, index prefix ('' not inline), change channel.
 * Returns { existed (0/1), principal or '' }.
 */
export const DESTROY = new Script(
  'destroy',
  `
local p = redis.call('HGET', KEYS[1], '#p') or ''
local existed = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if existed == 1 then redis.call('PUBLISH', ARGV[3], '- ' .. ARGV[1]) end
if ARGV[2] ~= '' and p ~= '' then redis.call('ZREM', ARGV[2] .. '{' .. p .. '}', ARGV[1]) end
return { existed, p }
`,
)

/**
 * One node (inline mode) only. KEYS: old session, old bucket expiries, new session, new
 * bucket expiries. ARGV: old id, new id, now, index prefix ('' none), change channel.
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
redis.call('PUBLISH', ARGV[5], '- ' .. ARGV[1])
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
 * bucket expiries. ARGV: old id, copied version, change channel. 1 removed, 0 changed
 * meanwhile, -1 gone.
 */
export const REMOVE_IF_VERSION = new Script(
  'removeIfVersion',
  `
local v = redis.call('HGET', KEYS[1], '#v')
if not v then return -1 end
if v ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[3], '- ' .. ARGV[1])
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
