/**
 * The store's Lua scripts: each store operation is one of these, run atomically on the
 * node that owns the session's slot. Each is defined with its keys, arguments and reply side
 * by side (src/redis/script.ts); the Lua they share is written once, below, and put into the
 * scripts that use it. Replies that are refusals come back as error replies
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
import type { StoredSession } from '../../core/store.js'
import { defineScript, HASH_CHUNKS, luaHelpers, type RedisReply } from '../../redis/index.js'
import { decodeHash } from './record.js'

type Expired = { id: string; principal: string | null }

/** A session's TTL (its expiry plus the retention, so the sweeper can still report it) and its place in its bucket's expiry index. */
const SCHEDULE = luaHelpers(
  'schedule',
  `
local function schedule(key, expiries, id, expires, retention)
  redis.call('PEXPIREAT', key, string.format('%.0f', tonumber(expires) + tonumber(retention)))
  redis.call('ZADD', expiries, expires, id)
end
`,
)

/** The per-principal index: ids scored by their absolute deadline; entries past it are pruned on every add. */
const PRINCIPALS = luaHelpers(
  'principal index',
  `
local function index_key(prefix, principal) return prefix .. '{' .. principal .. '}' end
local function index_add(ikey, id, deadline, now)
  redis.call('ZADD', ikey, deadline, id)
  redis.call('ZREMRANGEBYSCORE', ikey, '-inf', now)
end
local function index_remove(prefix, principal, id) redis.call('ZREM', index_key(prefix, principal), id) end
`,
)

/** The change feed: `<version> <id>` for a save, `- <id>` for a session gone or renamed. */
const CHANGES = luaHelpers(
  'change feed',
  `
local function announce_saved(channel, version, id) redis.call('PUBLISH', channel, version .. ' ' .. id) end
local function announce_gone(channel, id) redis.call('PUBLISH', channel, '- ' .. id) end
`,
)

/**
 * Atomic attribute operations on stored JSON text, the same rules as src/core/ops.ts.
 * Values are spliced as text (never decoded and re-encoded by cjson, which would round
 * numbers to 14 digits): an array gets one more element before its `]`; an object is split
 * into its top-level fields, which are replaced or added.
 */
const JSON_OPS = luaHelpers(
  'atomic JSON operations',
  `
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
`,
)

/**
 * Returns the session hash, or nil if absent or expired; touches it first when its last
 * access is at least `touchIntervalMs` old (-1: never).
 */
export const LOAD = defineScript({
  name: 'load',
  keys: ['session', 'expiries'],
  args: ['id', 'now', 'touchIntervalMs', 'retentionMs'],
  lua: `
local h = redis.call('HGETALL', session)
if #h == 0 then return nil end
local at = {}
for i = 1, #h, 2 do at[h[i]] = i + 1 end
local t = tonumber(now)
if not at['#e'] or tonumber(h[at['#e']]) <= t then return nil end
local interval = tonumber(touchIntervalMs)
if interval >= 0 and t - tonumber(h[at['#l']]) >= interval then
  local e = math.min(t + tonumber(h[at['#it']]), tonumber(h[at['#c']]) + tonumber(h[at['#at']]))
  local es = string.format('%.0f', e)
  redis.call('HSET', session, '#l', now, '#e', es)
  redis.call('PEXPIREAT', session, string.format('%.0f', e + tonumber(retentionMs)))
  redis.call('ZADD', expiries, es, id)
  h[at['#l']] = now
  h[at['#e']] = es
end
return h
`,
  parse: (reply): Omit<StoredSession, 'id'> | null => (reply === null ? null : decodeHash(reply as string[])),
})

/**
 * A new session from its hash fields (`fields`: field/value pairs). `index`: the
 * principal's index, in inline mode when a principal is set; `deadline` is its score there.
 * Refuses (SESSIONMESH_EXISTS) a live session with this id; replaces an expired one.
 */
export const CREATE = defineScript({
  name: 'create',
  keys: ['session', 'expiries', 'index?'],
  args: ['id', 'now', 'expiresAt', 'retentionMs', 'deadline', '...fields'],
  uses: [HASH_CHUNKS, SCHEDULE, PRINCIPALS],
  lua: `
local e = redis.call('HGET', session, '#e')
local t = tonumber(now)
if e and tonumber(e) > t then return redis.error_reply('SESSIONMESH_EXISTS') end
if e then redis.call('DEL', session) end
hset_chunks(session, fields)
schedule(session, expiries, id, expiresAt, retentionMs)
-- Entries nobody swept within the retention are dropped with their (already expired) keys.
redis.call('ZREMRANGEBYSCORE', expiries, '-inf', '(' .. string.format('%.0f', t - tonumber(retentionMs)))
if index then index_add(index, id, deadline, now) end
return 1
`,
  parse: (): void => undefined,
})

/**
 * A delta. `index`: the new principal's index (inline mode, principal set).
 * `expectedVersion`, `fence`, `maxValueBytes`: '' for none. `principalChange`: '' keep,
 * 's' set to `principal`, 'c' clear. `indexPrefix`: '' when not inline. `changes`:
 * op/name/value triples (op 's' set, 'd' delete, or an atomic op 'i' increment by value,
 * 'a' append element value, 'm' merge object value).
 * Every check, atomic results included, happens before the first write: Redis does not roll
 * a script back, so a refusal must come before anything changed.
 */
export const APPLY = defineScript({
  name: 'apply',
  keys: ['session', 'expiries', 'index?'],
  args: ['id', 'lastAccessedAt', 'expiresAt', 'retentionMs', 'expectedVersion', 'fence', 'principalChange', 'principal', 'indexPrefix', 'maxValueBytes', 'channel', '...changes'],
  uses: [HASH_CHUNKS, SCHEDULE, PRINCIPALS, CHANGES, JSON_OPS],
  lua: `
local m = redis.call('HMGET', session, '#e', '#v', '#f', '#p', '#c', '#at')
local now = tonumber(lastAccessedAt)
if not m[1] or tonumber(m[1]) <= now then return redis.error_reply('SESSIONMESH_NOT_FOUND') end
if expectedVersion ~= '' and tonumber(expectedVersion) ~= tonumber(m[2]) then return redis.error_reply('SESSIONMESH_VERSION ' .. m[2]) end
if fence ~= '' and tonumber(fence) < tonumber(m[3]) then return redis.error_reply('SESSIONMESH_FENCE ' .. m[3]) end
local max = tonumber(maxValueBytes)
local sets, dels, results, computed = {}, {}, {}, {}
for i = 1, #changes, 3 do
  local op, name = changes[i], changes[i + 1]
  if op == 's' then
    sets[#sets + 1] = 'a:' .. name
    sets[#sets + 1] = changes[i + 2]
  elseif op == 'd' then
    dels[#dels + 1] = 'a:' .. name
  else
    local cur = computed[name]
    if not cur then cur = redis.call('HGET', session, 'a:' .. name) or nil end
    local v, err = atomic(op, name, cur, changes[i + 2])
    if not v then return err end
    if max and #v > max then return redis.error_reply('SESSIONMESH_TOO_LARGE ' .. #v .. ' ' .. maxValueBytes) end
    computed[name] = v
    sets[#sets + 1] = 'a:' .. name
    sets[#sets + 1] = v
    results[#results + 1] = name
    results[#results + 1] = v
  end
end
hdel_chunks(session, dels)
sets[#sets + 1] = '#l'
sets[#sets + 1] = lastAccessedAt
sets[#sets + 1] = '#e'
sets[#sets + 1] = expiresAt
if fence ~= '' then
  sets[#sets + 1] = '#f'
  sets[#sets + 1] = fence
end
if principalChange == 's' then
  sets[#sets + 1] = '#p'
  sets[#sets + 1] = principal
elseif principalChange == 'c' then
  redis.call('HDEL', session, '#p')
end
hset_chunks(session, sets)
local v = redis.call('HINCRBY', session, '#v', 1)
schedule(session, expiries, id, expiresAt, retentionMs)
announce_saved(channel, v, id)
local old = m[4] or ''
if indexPrefix ~= '' and principalChange ~= '' and old ~= principal then
  if old ~= '' then index_remove(indexPrefix, old, id) end
  if principalChange == 's' then
    index_add(index, id, string.format('%.0f', tonumber(m[5]) + tonumber(m[6])), lastAccessedAt)
  end
end
local out = { v, old }
for j = 1, #results do out[#out + 1] = results[j] end
return out
`,
  parse: (reply) => {
    const [version, old, ...computed] = reply as [number, string, ...string[]]
    let values: Map<string, string> | undefined
    for (let i = 0; i + 1 < computed.length; i += 2) (values ??= new Map<string, string>()).set(computed[i] as string, computed[i + 1] as string)
    /** `oldPrincipal`: the principal before the delta, '' for none. */
    return { version: Number(version), oldPrincipal: old, values }
  },
})

/**
 * Takes (or renews, for the same owner) the session's lease and raises its fence: the new
 * fence, or null if another owner holds the lease. SESSIONMESH_NOT_FOUND if the session is gone.
 */
export const LOCK = defineScript({
  name: 'lock',
  keys: ['session', 'lock'],
  args: ['owner', 'ttlMs', 'now'],
  lua: `
local e = redis.call('HGET', session, '#e')
if not e or tonumber(e) <= tonumber(now) then return redis.error_reply('SESSIONMESH_NOT_FOUND') end
local holder = redis.call('GET', lock)
if holder and holder ~= owner then return 0 end
redis.call('SET', lock, owner, 'PX', ttlMs)
return redis.call('HINCRBY', session, '#f', 1)
`,
  parse: (reply) => {
    const fence = Number(reply)
    return fence === 0 ? null : fence
  },
})

/** A lease key (the sweeper's, a quorum lock's): true if `owner` holds it now, taken or renewed. */
export const TAKE_LEASE = defineScript({
  name: 'takeLease',
  keys: ['lease'],
  args: ['owner', 'ttlMs'],
  lua: `
local holder = redis.call('GET', lease)
if holder and holder ~= owner then return 0 end
redis.call('SET', lease, owner, 'PX', ttlMs)
return 1
`,
  parse: (reply) => Number(reply) === 1,
})

/** A lease key (a session lock, a quorum lock): true if `owner` still held it and it now runs `ttlMs` more. */
export const EXTEND_LEASE = defineScript({
  name: 'extendLease',
  keys: ['lease'],
  args: ['owner', 'ttlMs'],
  lua: `
if redis.call('GET', lease) ~= owner then return 0 end
return redis.call('PEXPIRE', lease, ttlMs)
`,
  parse: (reply) => Number(reply) === 1,
})

/** A lease key: true if `owner` held it and it is released; another owner's lease is never touched. */
export const RELEASE_LEASE = defineScript({
  name: 'releaseLease',
  keys: ['lease'],
  args: ['owner'],
  lua: `
if redis.call('GET', lease) ~= owner then return 0 end
return redis.call('DEL', lease)
`,
  parse: (reply) => Number(reply) === 1,
})

/** Raises the fence without a lease (quorum locks) and returns it. SESSIONMESH_NOT_FOUND if the session is gone. */
export const RAISE_FENCE = defineScript({
  name: 'raiseFence',
  keys: ['session'],
  args: ['now'],
  lua: `
local e = redis.call('HGET', session, '#e')
if not e or tonumber(e) <= tonumber(now) then return redis.error_reply('SESSIONMESH_NOT_FOUND') end
return redis.call('HINCRBY', session, '#f', 1)
`,
  parse: (reply) => Number(reply),
})

/** Records an access: true if touched, false (no write) if the session is absent or expired. */
export const TOUCH = defineScript({
  name: 'touch',
  keys: ['session', 'expiries'],
  args: ['id', 'lastAccessedAt', 'expiresAt', 'retentionMs'],
  uses: [SCHEDULE],
  lua: `
local e = redis.call('HGET', session, '#e')
if not e or tonumber(e) <= tonumber(lastAccessedAt) then return 0 end
redis.call('HSET', session, '#l', lastAccessedAt, '#e', expiresAt)
schedule(session, expiries, id, expiresAt, retentionMs)
return 1
`,
  parse: (reply) => reply === 1,
})

/** Removes the session. `indexPrefix`: '' when not inline. Returns whether it existed and its principal ('' none). */
export const DESTROY = defineScript({
  name: 'destroy',
  keys: ['session', 'expiries'],
  args: ['id', 'indexPrefix', 'channel'],
  uses: [PRINCIPALS, CHANGES],
  lua: `
local p = redis.call('HGET', session, '#p') or ''
local existed = redis.call('DEL', session)
redis.call('ZREM', expiries, id)
if existed == 1 then announce_gone(channel, id) end
if indexPrefix ~= '' and p ~= '' then index_remove(indexPrefix, p, id) end
return { existed, p }
`,
  parse: (reply) => {
    const [existed, principal] = reply as [number, string]
    return { existed: Number(existed) === 1, principal }
  },
})

/**
 * One node (inline mode) only: moves a session to a new id. `indexPrefix`: '' for none.
 * False if the old session is absent or expired; SESSIONMESH_EXISTS if the new id is live.
 */
export const CHANGE_ID = defineScript({
  name: 'changeId',
  keys: ['oldSession', 'oldExpiries', 'newSession', 'newExpiries'],
  args: ['oldId', 'newId', 'now', 'indexPrefix', 'channel'],
  uses: [PRINCIPALS, CHANGES],
  lua: `
local t = tonumber(now)
local m = redis.call('HMGET', oldSession, '#e', '#p', '#c', '#at')
if not m[1] or tonumber(m[1]) <= t then return 0 end
local taken = redis.call('HGET', newSession, '#e')
if taken and tonumber(taken) > t then return redis.error_reply('SESSIONMESH_EXISTS') end
-- RENAME keeps the TTL and replaces an expired leftover under the new id.
redis.call('RENAME', oldSession, newSession)
redis.call('HSET', newSession, '#i', now)
announce_gone(channel, oldId)
redis.call('ZREM', oldExpiries, oldId)
redis.call('ZADD', newExpiries, m[1], newId)
if indexPrefix ~= '' and m[2] then
  local ikey = index_key(indexPrefix, m[2])
  redis.call('ZREM', ikey, oldId)
  redis.call('ZADD', ikey, string.format('%.0f', tonumber(m[3]) + tonumber(m[4])), newId)
end
return 1
`,
  parse: (reply) => reply === 1,
})

/**
 * Cluster id change, last step: removes the old session only if it is still at the version
 * that was copied (a write in between makes the caller copy again): 'removed', 'changed'
 * meanwhile, or 'gone'.
 */
export const REMOVE_IF_VERSION = defineScript({
  name: 'removeIfVersion',
  keys: ['session', 'expiries'],
  args: ['id', 'version', 'channel'],
  uses: [CHANGES],
  lua: `
local v = redis.call('HGET', session, '#v')
if not v then return -1 end
if v ~= version then return 0 end
redis.call('DEL', session)
redis.call('ZREM', expiries, id)
announce_gone(channel, id)
return 1
`,
  parse: (reply) => {
    const n = Number(reply)
    return n === 1 ? 'removed' : n === -1 ? 'gone' : 'changed'
  },
})

/**
 * One bucket's candidates (`sessions`: their keys, `ids`: their ids, in the same order):
 * removes each that is still due and returns them with their principals; the ZREM makes
 * each expiry reported by exactly one sweep.
 */
export const SWEEP = defineScript({
  name: 'sweep',
  keys: ['expiries', '...sessions'],
  args: ['now', '...ids'],
  lua: `
local t = tonumber(now)
local out = {}
for i = 1, #sessions do
  local id = ids[i]
  local score = redis.call('ZSCORE', expiries, id)
  if score and tonumber(score) <= t then
    local m = redis.call('HMGET', sessions[i], '#e', '#p')
    if not m[1] or tonumber(m[1]) <= t then
      redis.call('DEL', sessions[i])
      redis.call('ZREM', expiries, id)
      out[#out + 1] = id
      out[#out + 1] = m[2] or ''
    else
      -- Extended after the candidate list was read: keep it, with its current expiry.
      redis.call('ZADD', expiries, m[1], id)
    end
  end
end
return out
`,
  parse: (reply) => pairs(reply as string[]),
})

/** Adds an id to a principal's index (Cluster mode's separate index step). */
export const INDEX_ADD = defineScript({
  name: 'indexAdd',
  keys: ['index'],
  args: ['id', 'deadline', 'now'],
  uses: [PRINCIPALS],
  lua: `
index_add(index, id, deadline, now)
return 1
`,
  parse: (): void => undefined,
})

/** A flat id/principal list as expiries ('' is no principal). */
function pairs(flat: readonly RedisReply[]): Expired[] {
  const out: Expired[] = []
  for (let i = 0; i + 1 < flat.length; i += 2) out.push({ id: flat[i] as string, principal: (flat[i + 1] as string) || null })
  return out
}
