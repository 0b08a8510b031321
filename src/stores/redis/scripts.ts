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
 * Atomic attribute operations on stored JSON text, giving the same text as src/core/ops.ts
 * (JSON.stringify of the result) for values the core wrote (JSON.stringify's text). Values
 * are spliced as text (never decoded and re-encoded by cjson, which would round numbers to 14
 * digits): an array gets one more element before its `]`; an object is split into its
 * top-level fields, which are replaced or added, and written in JavaScript's key order.
 *
 * Bounded work: every step is one forward pass over the text (or C-speed `find` / `reverse`
 * over it); no pattern here can backtrack over user data more than once. A value of `maxSize`
 * bytes of whitespace, nesting or escapes costs time linear in its length.
 */
const JSON_OPS = luaHelpers(
  'atomic JSON operations',
  `
-- Whitespace as Lua's %s has it (space, \\t \\n \\v \\f \\r): a superset of JSON's.
local function is_ws(c) return c == 32 or (c >= 9 and c <= 13) end
-- s without leading and trailing whitespace, in linear time: the end is found by one find
-- on the reversed text (a '%s+$' gsub restarts at every character of a run: quadratic).
local function trim(s)
  local i = s:find('%S')
  if not i then return '' end
  local j = #s
  if is_ws(s:byte(j)) then j = #s + 1 - s:reverse():find('%S') end
  if i == 1 and j == #s then return s end
  return s:sub(i, j)
end
-- Index of the quote closing the string that opens at j. Each find (one character class,
-- no repetition) jumps to the next quote or backslash: C speed, never revisiting a byte.
local function str_end(s, j)
  j = j + 1
  while true do
    j = s:find('["\\\\]', j)
    if not j then return nil end
    if s:byte(j) == 34 then return j end
    j = j + 2
  end
end
-- Index of the last character of the JSON value starting at j.
local function value_end(s, j)
  local c = s:byte(j)
  if c == 34 then return str_end(s, j) end
  if c == 123 or c == 91 then
    local depth = 0
    while true do
      -- The next structural character; everything between is skipped by find.
      j = s:find('[][{}"]', j)
      if not j then return nil end
      c = s:byte(j)
      if c == 34 then
        j = str_end(s, j)
        if not j then return nil end
      elseif c == 123 or c == 91 then depth = depth + 1
      else
        depth = depth - 1
        if depth == 0 then return j end
      end
      j = j + 1
    end
  end
  local e = s:find('[,}%]%s]', j + 1)
  return e and e - 1 or #s
end
-- The top-level fields of a JSON object as raw key and value texts, or nil if not an object.
local function fields_of(s)
  s = trim(s)
  if s:byte(1) ~= 123 then return nil end
  local keys, vals, i = {}, {}, 2
  -- JSON.stringify's text has no whitespace between tokens: a byte test, find only if there is.
  local function ws()
    local c = s:byte(i)
    if c and is_ws(c) then i = s:find('%S', i) or (#s + 1) end
  end
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
-- The array index a key text names ("0", "17": canonical, at most 2^32 - 2), else nil.
-- JavaScript lists such keys first, in numeric order, whatever order they were added in.
local function index_of(k)
  if #k < 3 or #k > 12 then return nil end
  local d = k:byte(2)
  if d < 48 or d > 57 then return nil end
  if k ~= '"0"' and not k:find('^"[1-9]%d*"$') then return nil end
  local n = tonumber(k:sub(2, -2))
  if n > 4294967294 then return nil end
  return n
end
-- The digit string d (all digits) plus or minus one in its last place, or nil when that
-- changes its length (such a value has fewer digits, and was tried before).
local function step_digits(d, up)
  local out, i = {}, #d
  local carry = true
  while i >= 1 do
    local c = d:byte(i) - 48
    if carry then
      if up then c = c + 1 else c = c - 1 end
      carry = c > 9 or c < 0
      c = c % 10
    end
    out[i] = string.char(48 + c)
    i = i - 1
  end
  if carry or out[1] == '0' then return nil end
  return table.concat(out)
end
-- JavaScript's Number::toString (what JSON.stringify writes) of a finite number: the fewest
-- significant digits that read back as n (the one closest to n among those), laid out as
-- ECMA-262 says: plain digits from 1e-7 to below 1e21, else d.ddde+XX / d.ddde-XX.
local function js_number(n)
  if n == 0 then return '0' end
  local sign = ''
  if n < 0 then sign, n = '-', -n end
  local digits, exp
  for p = 0, 16 do
    local s = string.format('%.' .. p .. 'e', n)
    local epos = s:find('e', 1, true)
    local d, e = s:sub(1, 1) .. s:sub(3, epos - 1), tonumber(s:sub(epos + 1))
    if tonumber(s) == n then
      digits, exp = d, e
      break
    end
    -- Just above a power of two the nearest p-digit decimal may miss while its neighbour
    -- on the other side reads back (the gap below is half the gap above).
    for _, up in ipairs({ true, false }) do
      local alt = step_digits(d, up)
      if alt and tonumber(alt:sub(1, 1) .. '.' .. alt:sub(2) .. 'e' .. e) == n then
        digits, exp = alt, e
        break
      end
    end
    if digits then break end
  end
  digits = digits:gsub('0+$', '')
  if digits == '' then digits = '0' end
  local k, point = #digits, exp + 1
  local out
  if k <= point and point <= 21 then
    out = digits .. string.rep('0', point - k)
  elseif 0 < point and point <= 21 then
    out = digits:sub(1, point) .. '.' .. digits:sub(point + 1)
  elseif -6 < point and point <= 0 then
    out = '0.' .. string.rep('0', -point) .. digits
  else
    local mantissa = digits:sub(1, 1)
    if k > 1 then mantissa = mantissa .. '.' .. digits:sub(2) end
    local e = point - 1
    out = mantissa .. 'e' .. (e > 0 and '+' or '-') .. string.format('%d', math.abs(e))
  end
  return sign .. out
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
    return js_number(n)
  elseif op == 'a' then
    if not cur then return '[' .. arg .. ']' end
    local t = trim(cur)
    if t:byte(1) ~= 91 then return nil, refuse_type('array', name) end
    -- Anchored at 2: one pass over the whitespace after '[' (no re-tries at later starts).
    if t:find('^%s*%]', 2) then return '[' .. arg .. ']' end
    return t:sub(1, -2) .. ',' .. arg .. ']'
  else
    local keys, vals = {}, {}
    if cur then
      keys, vals = fields_of(cur)
      if not keys then return nil, refuse_type('object', name) end
    end
    local nk, nv = fields_of(arg)
    local at = {}
    local stored = #keys
    for j = 1, stored do at[keys[j]] = j end
    for j = 1, #nk do
      local k = nk[j]
      if at[k] then vals[at[k]] = nv[j] else
        keys[#keys + 1] = k
        vals[#vals + 1] = nv[j]
        at[k] = #keys
      end
    end
    -- JavaScript's property order: array-index keys ascending, then the rest as added. The
    -- stored ones are in that order already (JSON.stringify wrote them): only the added ones
    -- are sorted, then merged in, so a large stored object costs one pass, not a sort.
    local function by_index(a, b) return a[1] < b[1] end
    local old_ix, new_ix, sorted = {}, {}, true
    for j = 1, #keys do
      local n = index_of(keys[j])
      if n then
        local list = (j <= stored) and old_ix or new_ix
        if j <= stored and #list > 0 and list[#list][1] > n then sorted = false end
        list[#list + 1] = { n, j }
      end
    end
    if not sorted then table.sort(old_ix, by_index) end
    table.sort(new_ix, by_index)
    local parts, a, b = {}, 1, 1
    while a <= #old_ix or b <= #new_ix do
      local e
      if b > #new_ix or (a <= #old_ix and old_ix[a][1] < new_ix[b][1]) then
        e = old_ix[a]
        a = a + 1
      else
        e = new_ix[b]
        b = b + 1
      end
      parts[#parts + 1] = keys[e[2]] .. ':' .. vals[e[2]]
      at[keys[e[2]]] = false
    end
    for j = 1, #keys do
      if at[keys[j]] then parts[#parts + 1] = keys[j] .. ':' .. vals[j] end
    end
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
 * `expectedVersion`, `fence`, `maxValueBytes`, `maxSessionBytes`: '' for none. `principalChange`: '' keep,
 * 's' set to `principal`, 'c' clear. `indexPrefix`: '' when not inline. `changes`:
 * op/name/value triples (op 's' set, 'd' delete, or an atomic op 'i' increment by value,
 * 'a' append element value, 'm' merge object value).
 * Every check, atomic results included, happens before the first write: Redis does not roll
 * a script back, so a refusal must come before anything changed.
 */
export const APPLY = defineScript({
  name: 'apply',
  keys: ['session', 'expiries', 'index?'],
  args: ['id', 'lastAccessedAt', 'expiresAt', 'retentionMs', 'expectedVersion', 'fence', 'principalChange', 'principal', 'indexPrefix', 'maxValueBytes', 'maxSessionBytes', 'channel', '...changes'],
  uses: [HASH_CHUNKS, SCHEDULE, PRINCIPALS, CHANGES, JSON_OPS],
  lua: `
local m = redis.call('HMGET', session, '#e', '#v', '#f', '#p', '#c', '#at')
local now = tonumber(lastAccessedAt)
if not m[1] or tonumber(m[1]) <= now then return redis.error_reply('SESSIONMESH_NOT_FOUND') end
if expectedVersion ~= '' and tonumber(expectedVersion) ~= tonumber(m[2]) then return redis.error_reply('SESSIONMESH_VERSION ' .. m[2]) end
if fence ~= '' and tonumber(fence) < tonumber(m[3]) then return redis.error_reply('SESSIONMESH_FENCE ' .. m[3]) end
local max = tonumber(maxValueBytes)
local sets, dels, results, computed = {}, {}, {}, {}
-- after[name]: the attribute's bytes (name + value) once the delta is applied, 0 if deleted.
local after = {}
for i = 1, #changes, 3 do
  local op, name = changes[i], changes[i + 1]
  if op == 's' then
    sets[#sets + 1] = 'a:' .. name
    sets[#sets + 1] = changes[i + 2]
    after[name] = #name + #changes[i + 2]
  elseif op == 'd' then
    dels[#dels + 1] = 'a:' .. name
    after[name] = 0
  else
    local cur = computed[name]
    if not cur then cur = redis.call('HGET', session, 'a:' .. name) or nil end
    local v, err = atomic(op, name, cur, changes[i + 2])
    if not v then return err end
    if max and #v > max then return redis.error_reply('SESSIONMESH_TOO_LARGE ' .. #v .. ' ' .. maxValueBytes) end
    computed[name] = v
    sets[#sets + 1] = 'a:' .. name
    sets[#sets + 1] = v
    after[name] = #name + #v
    results[#results + 1] = name
    results[#results + 1] = v
  end
end
-- The session's total (names + values, as Session#resize counts) may not pass maxSessionBytes
-- through a delta that grows it; one that shrinks or keeps it always applies. Only a growing
-- delta pays for the total (one HSTRLEN per attribute).
local limit = tonumber(maxSessionBytes)
if limit then
  local growth = 0
  for name, bytes in pairs(after) do
    local field = 'a:' .. name
    local len = redis.call('HSTRLEN', session, field)
    if len > 0 or redis.call('HEXISTS', session, field) == 1 then bytes = bytes - #name - len end
    growth = growth + bytes
  end
  if growth > 0 then
    local total = growth
    for _, field in ipairs(redis.call('HKEYS', session)) do
      if field:byte(1) == 97 and field:byte(2) == 58 then total = total + #field - 2 + redis.call('HSTRLEN', session, field) end
    end
    if total > limit then return redis.error_reply('SESSIONMESH_TOO_LARGE ' .. total .. ' ' .. maxSessionBytes) end
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
