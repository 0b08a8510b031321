/**
 * Lua scripts defined with their keys, arguments and reply parsing side by side (the idea of
 * node-redis' `defineScript`, packages/client/lib/lua-script.ts, written for our needs).
 *
 * @example
 * const TOUCH = defineScript({
 *   name: 'touch',
 *   keys: ['session', 'expiries'],
 *   args: ['id', 'lastAccessedAt', 'expiresAt', 'retentionMs'],
 *   uses: [SCHEDULE],
 *   lua: `... redis.call('HSET', session, '#l', lastAccessedAt) ...`,
 *   parse: (reply) => reply === 1,
 * })
 * const touched = await connection.run(TOUCH, { keys: { session, expiries }, args: { id, lastAccessedAt, expiresAt, retentionMs } })
 *
 * Each script's source starts with its names bound to Redis' arrays, in the declared order:
 *
 *   local session, expiries = KEYS[1], KEYS[2]
 *   local id, lastAccessedAt, expiresAt, retentionMs = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
 *
 * so the order the caller sends and the order the Lua reads come from one list and cannot
 * drift. Arguments stay strings (Redis' own form: `tonumber` where a number is needed). A name
 * ending in `?` may be left out (only at the end of its list; Lua then sees nil), and a last
 * name starting with `...` takes any number of values (Lua gets a table of them). Then come
 * the shared helpers the script `uses` (each once, after the helpers it `needs`), then its body.
 */
import { createHash } from 'node:crypto'

/** A reply as node-redis gives it for a script (RESP2: Lua tables become arrays, false becomes null). */
export type RedisReply = string | number | null | RedisReply[]

/** Lua helpers written once and put into every script that uses them. */
export interface LuaHelpers {
  readonly name: string
  readonly lua: string
  /** Helpers this one calls: they come first. */
  readonly needs: readonly LuaHelpers[]
  /** The top-level names it defines (`local function x`, `local x =`), checked against a script's own names. */
  readonly defines: readonly string[]
}

/** Defines shared Lua (functions and constants) that scripts name in `uses`. */
export function luaHelpers(name: string, lua: string, needs: readonly LuaHelpers[] = []): LuaHelpers {
  const defines = [...lua.matchAll(/^local (?:function )?([A-Za-z_][\w, ]*?)\s*(?:=|\()/gm)].flatMap((m) => (m[1] as string).split(',').map((s) => s.trim()))
  return { name, lua, needs, defines }
}

type Required_<N> = N extends `${string}?` | `...${string}` ? never : N
type Optional_<N> = N extends `${infer R}?` ? R : never
type Rest_<N> = N extends `...${infer R}` ? R : never

/** Values by name for a list of names (`a`, `b?`, `...c`): `{ a: V; b?: V; c: V[] }`. */
export type Named<Names extends readonly string[], V> = { [N in Required_<Names[number]>]: V } & { [N in Optional_<Names[number]>]?: V | undefined } & {
  [N in Rest_<Names[number]>]: readonly V[]
}

/** One call's keys and arguments, by name. */
export interface ScriptCall<K extends readonly string[], A extends readonly string[]> {
  keys: Named<K, string>
  args: Named<A, string | number>
}

export interface ScriptSpec<K extends readonly string[], A extends readonly string[], R> {
  /** For messages and `SCRIPT` debugging. */
  name: string
  /** KEYS, in order: every key the script touches, all in one slot on Redis Cluster. */
  keys: K
  /** ARGV, in order. */
  args: A
  /** Shared helpers, put before the body. */
  uses?: readonly LuaHelpers[]
  /** The body. */
  lua: string
  /** The reply as the caller wants it. Refusals are error replies, thrown before this. */
  parse: (reply: RedisReply) => R
}

/** A defined script: its full source and SHA1 (what EVALSHA sends), and how a call is laid out and answered. */
export interface LuaScript<K extends readonly string[] = readonly string[], A extends readonly string[] = readonly string[], R = unknown> {
  readonly name: string
  readonly keys: K
  readonly args: A
  readonly source: string
  readonly sha: string
  /** The call as KEYS and ARGV. */
  encode(call: ScriptCall<K, A>): { keys: string[]; args: string[] }
  parse(reply: RedisReply): R
}

/** The call a script takes. */
export type CallOf<S> = S extends LuaScript<infer K, infer A, unknown> ? ScriptCall<K, A> : never
/** What a script's call resolves to. */
export type ReplyOf<S> = S extends LuaScript<readonly string[], readonly string[], infer R> ? R : never

interface Slot {
  lua: string
  optional: boolean
  rest: boolean
}

const LUA_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
/** Lua's keywords, and the globals a script or helper may call: a local of that name would hide them. */
const LUA_RESERVED = new Set(
  [
    'and break do else elseif end false for function if in local nil not or repeat return then true until while',
    'KEYS ARGV redis cjson cmsgpack bit struct string table math os tonumber tostring unpack type pairs ipairs next select pcall error assert rawget rawset rawequal setmetatable getmetatable loadstring print _G',
  ]
    .join(' ')
    .split(' '),
)

function slots(script: string, what: 'keys' | 'args', names: readonly string[]): Slot[] {
  const out = names.map((n): Slot => {
    const rest = n.startsWith('...')
    const optional = !rest && n.endsWith('?')
    const lua = rest ? n.slice(3) : optional ? n.slice(0, -1) : n
    if (!LUA_NAME.test(lua) || LUA_RESERVED.has(lua)) throw new TypeError(`script ${script}: ${what} name "${n}" is not usable as a Lua name`)
    return { lua, optional, rest }
  })
  out.forEach((s, i) => {
    if (s.rest && i !== out.length - 1) throw new TypeError(`script ${script}: only the last of its ${what} may be a rest (...${s.lua})`)
    const next = out[i + 1]
    if (s.optional && next && !next.optional) throw new TypeError(`script ${script}: optional ${what} (${s.lua}?) must come last`)
  })
  return out
}

/** The helpers and what they need, each once, needs first. */
function ordered(uses: readonly LuaHelpers[]): LuaHelpers[] {
  const out: LuaHelpers[] = []
  const visit = (h: LuaHelpers) => {
    if (out.includes(h)) return
    h.needs.forEach(visit)
    out.push(h)
  }
  uses.forEach(visit)
  return out
}

/** `local a, b = ARR[1], ARR[2]`, then a table for a rest. */
function bind(array: 'KEYS' | 'ARGV', list: Slot[]): string {
  const fixed = list.filter((s) => !s.rest)
  const lines: string[] = []
  if (fixed.length > 0) lines.push(`local ${fixed.map((s) => s.lua).join(', ')} = ${fixed.map((_, i) => `${array}[${i + 1}]`).join(', ')}`)
  const rest = list.find((s) => s.rest)
  if (rest) lines.push(`local ${rest.lua} = {}`, `for i = ${fixed.length + 1}, #${array} do ${rest.lua}[#${rest.lua} + 1] = ${array}[i] end`)
  return lines.join('\n')
}

function lay(script: string, what: 'keys' | 'args', list: Slot[], given: Readonly<Record<string, string | number | readonly (string | number)[] | undefined>>): string[] {
  const out: string[] = []
  let ended = false
  for (const s of list) {
    const v = given[s.lua]
    if (s.rest) {
      if (!Array.isArray(v)) throw new TypeError(`script ${script}: ${what}.${s.lua} must be a list`)
      for (const item of v) out.push(String(item))
    } else if (v === undefined) {
      if (!s.optional) throw new TypeError(`script ${script}: ${what}.${s.lua} is missing`)
      ended = true
    } else {
      if (ended) throw new TypeError(`script ${script}: ${what}.${s.lua} given after an optional one left out`)
      out.push(String(v))
    }
  }
  return out
}

/**
 * Defines a script: its names bound at the top of the Lua, its helpers, its body, and how its
 * reply is read. Throws at definition (module load) on a name Lua cannot use, a name given
 * twice, or a name a helper already defines.
 */
export function defineScript<const K extends readonly string[], const A extends readonly string[], R>(spec: ScriptSpec<K, A, R>): LuaScript<K, A, R> {
  const keySlots = slots(spec.name, 'keys', spec.keys)
  const argSlots = slots(spec.name, 'args', spec.args)
  const helpers = ordered(spec.uses ?? [])
  const names = [...keySlots, ...argSlots].map((s) => s.lua)
  const taken = new Map<string, string>()
  for (const n of names) {
    if (taken.has(n)) throw new TypeError(`script ${spec.name}: the name ${n} is given twice`)
    taken.set(n, 'the script')
  }
  for (const h of helpers) {
    for (const n of h.defines) {
      const other = taken.get(n)
      if (other) throw new TypeError(`script ${spec.name}: ${n} is defined by ${other} and by the helpers ${h.name}`)
      taken.set(n, `the helpers ${h.name}`)
    }
  }
  const source = [
    `-- sessionmesh: ${spec.name}`,
    bind('KEYS', keySlots),
    bind('ARGV', argSlots),
    ...helpers.map((h) => `-- helpers: ${h.name}\n${h.lua.trim()}`),
    spec.lua.trim(),
  ]
    .filter((part) => part !== '')
    .join('\n')
    .concat('\n')
  return {
    name: spec.name,
    keys: spec.keys,
    args: spec.args,
    source,
    sha: createHash('sha1').update(source).digest('hex'),
    encode: (call) => ({
      keys: lay(spec.name, 'keys', keySlots, call.keys),
      args: lay(spec.name, 'args', argSlots, call.args),
    }),
    parse: spec.parse,
  }
}
