/**
 * Attribute values between sessionmesh's JSON and the JSON Spring Session writes with
 * Spring Data Redis' GenericJackson2JsonRedisSerializer (Jackson with default typing).
 *
 * What Jackson writes (spring-data-redis `GenericJackson2JsonRedisSerializer`, default typing
 * "for everything" except primitives, their wrappers, enums and final `java.*` types; checked
 * against jackson-databind 2.17 and 2.22 by test/interop/fixtures/spring/JacksonHarness.java):
 *
 * | Java value                          | Jackson text                                              |
 * | ----------------------------------- | --------------------------------------------------------- |
 * | String, Integer, Boolean, null      | `"a"`, `42`, `true`, `null`                               |
 * | Double                              | `10.0`, `0.1`, `1.2345678E7` (Java's Double.toString)     |
 * | Long at the top                     | `1404360000000` (the declared type is Long: no hint)      |
 * | Long, Float, Date... inside a map   | `["java.lang.Long",42]` (a wrapper array: hint, value)    |
 * | HashMap, beans                      | `{"@class":"java.util.HashMap","k":...}`                  |
 * | ArrayList, HashSet, ...             | `["java.util.ArrayList",[...]]`                           |
 * | a bean's `String[]` / `int[]` field | `["a","b"]` (no hint: the field's type says it)           |
 *
 * Spring cannot read a map or list without its hint (`missing type id property '@class'`), so
 * values written from Node must carry them. Spring's removal of an attribute is an empty value;
 * that never reaches this module (the store treats it as "absent").
 *
 * sessionmesh's view of a Jackson value (`fromSpring`), designed so that reading a value and
 * writing it back (`toSpring`) gives Spring's exact bytes, and so that a value made in Node,
 * written and read again, is the same JSON text:
 *
 * - strings, booleans, null, whole numbers: as they are.
 * - `{"@class":"java.util.HashMap",...}`: a plain object (the hint is implied). Any other
 *   `@class` (beans, `LinkedHashMap`, Spring Security's types) stays a visible `"@class"` key.
 * - `["java.util.ArrayList",[...]]`: a plain array (the hint is implied).
 * - any other wrapper `[type, value]`: `{"@class": type, "@value": value}`, e.g. a Java Long in
 *   a map is `{"@class":"java.lang.Long","@value":42}` (see `javaLong`). A collection's items
 *   stay an array in `@value`.
 * - a Double with a whole value (`10.0`): `{"@class":"java.lang.Double","@value":10}`, since
 *   `10` would come back to Java as an Integer. Doubles with a fraction are plain numbers.
 * - an object without a hint: `{...,"@class":null}`; an array without one (a bean's `String[]`):
 *   `{"@class":null,"@value":[...]}`. Without the marker they would be written back with hints.
 *   (An object whose keys JavaScript would reorder, such as `"1"` after `"a"`, is kept as `@json`.)
 * - anything else (numbers JavaScript cannot hold exactly, text Jackson would not write, keys
 *   that would be ambiguous): `{"@json":"<the exact text>"}`, written back verbatim.
 *
 * Stores receive values already encoded and must give back the very same string (the store
 * contract), so a value that is not JSON in JSON.stringify's spelling (e.g. one sealed by the
 * `encryption` option) is written as a Java String `"sessionmesh:opaque:<value>"`, which
 * every Jackson configuration reads, and comes back unchanged. (A JSON string that itself
 * starts with that prefix is written the same way.)
 *
 * Node values are written as Jackson would write the same Java values: objects become
 * HashMaps, arrays ArrayLists, whole numbers Integers (Longs beyond 32 bits), other numbers
 * Doubles. `java.util.HashMap` and `java.util.ArrayList` are on Spring Security's Jackson
 * allow-list, so an application using `SecurityJackson2Modules` reads them too.
 */
import { InvalidAttributeError } from '../../core/errors.js'

/** A parsed JSON value that remembers its source text (`start`..`end`) and literal spellings. */
type Node =
  | { t: 'str'; value: string; start: number; end: number }
  | { t: 'num'; start: number; end: number }
  | { t: 'lit'; text: 'true' | 'false' | 'null'; start: number; end: number }
  | { t: 'arr'; items: Node[]; start: number; end: number }
  | { t: 'obj'; entries: Entry[]; start: number; end: number }
type Entry = { key: string; keyStart: number; keyEnd: number; value: Node }

/** Deeper than this is refused (Jackson 2.15+ refuses depth 1000 by default). */
const MAX_DEPTH = 500

class JsonSyntax extends Error {}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y
const INTEGER = /^-?\d+$/

/** A strict RFC 8259 parser that keeps positions, so literals can be compared with their source text. */
function parse(text: string): Node {
  let i = 0
  const ws = () => {
    for (;;) {
      const c = text.charCodeAt(i)
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++
      else return
    }
  }
  const str = (): Node & { t: 'str' } => {
    const start = i
    let escaped = false
    i++ // opening quote
    for (;;) {
      if (i >= text.length) throw new JsonSyntax('unterminated string')
      const c = text.charCodeAt(i)
      if (c === 0x22) break
      if (c < 0x20) throw new JsonSyntax('control character in string')
      if (c === 0x5c) {
        escaped = true
        const e = text.charCodeAt(i + 1)
        if (e === 0x75) {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new JsonSyntax('bad \\u escape')
          i += 6
        } else if (e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
          i += 2
        } else {
          throw new JsonSyntax('bad escape')
        }
        continue
      }
      i++
    }
    i++ // closing quote
    const value = escaped ? (JSON.parse(text.slice(start, i)) as string) : text.slice(start + 1, i - 1)
    return { t: 'str', value, start, end: i }
  }
  const value = (depth: number): Node => {
    if (depth > MAX_DEPTH) throw new JsonSyntax('too deep')
    ws()
    const start = i
    const c = text.charCodeAt(i)
    if (c === 0x22) return str()
    if (c === 0x7b) {
      i++
      const entries: Entry[] = []
      ws()
      if (text.charCodeAt(i) === 0x7d) {
        i++
        return { t: 'obj', entries, start, end: i }
      }
      for (;;) {
        ws()
        if (text.charCodeAt(i) !== 0x22) throw new JsonSyntax('expected a key')
        const k = str()
        ws()
        if (text.charCodeAt(i) !== 0x3a) throw new JsonSyntax('expected :')
        i++
        entries.push({ key: k.value, keyStart: k.start, keyEnd: k.end, value: value(depth + 1) })
        ws()
        const d = text.charCodeAt(i++)
        if (d === 0x7d) return { t: 'obj', entries, start, end: i }
        if (d !== 0x2c) throw new JsonSyntax('expected , or }')
      }
    }
    if (c === 0x5b) {
      i++
      const items: Node[] = []
      ws()
      if (text.charCodeAt(i) === 0x5d) {
        i++
        return { t: 'arr', items, start, end: i }
      }
      for (;;) {
        items.push(value(depth + 1))
        ws()
        const d = text.charCodeAt(i++)
        if (d === 0x5d) return { t: 'arr', items, start, end: i }
        if (d !== 0x2c) throw new JsonSyntax('expected , or ]')
      }
    }
    for (const lit of ['true', 'false', 'null'] as const) {
      if (text.startsWith(lit, i)) {
        i += lit.length
        return { t: 'lit', text: lit, start, end: i }
      }
    }
    NUMBER.lastIndex = i
    const m = NUMBER.exec(text)
    if (!m) throw new JsonSyntax(`unexpected character at ${i}`)
    i += m[0].length
    return { t: 'num', start, end: i }
  }
  const root = value(0)
  ws()
  if (i !== text.length) throw new JsonSyntax('trailing text')
  return root
}

/**
 * A string as Jackson's byte generator (`writeValueAsBytes`, which the serializer uses) writes
 * it: `"` and `\` escaped, the short escapes for \b \t \n \f \r, other control characters as
 * `\u00XX` with upper-case hex (Jackson's CharTypes table), characters outside the BMP as two
 * `\uXXXX` surrogate escapes (UTF8JsonGenerator; JsonWriteFeature.COMBINE_UNICODE_SURROGATES_IN_UTF8
 * is off by default), everything else (other non-ASCII, U+2028, DEL) as is.
 */
export function jacksonString(s: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is looked for
  if (!/["\\\u0000-\u001f\ud800-\udfff]/.test(s)) return `"${s}"`
  let out = '"'
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k)
    if (c === 0x22) out += '\\"'
    else if (c === 0x5c) out += '\\\\'
    else if (c === 0x08) out += '\\b'
    else if (c === 0x09) out += '\\t'
    else if (c === 0x0a) out += '\\n'
    else if (c === 0x0c) out += '\\f'
    else if (c === 0x0d) out += '\\r'
    else if (c < 0x20) out += `\\u${c.toString(16).toUpperCase().padStart(4, '0')}`
    else if (c >= 0xd800 && c <= 0xdfff) out += `\\u${c.toString(16).toUpperCase()}`
    else out += s[k]!
  }
  return `${out}"`
}

/**
 * A double as Java's `Double.toString` (and so Jackson) writes it: plain notation with at
 * least one decimal for 10^-3 <= |d| < 10^7, else `d.dddE±n`; the shortest digits that read
 * back to the same double (what JDK 19+ and Jackson's fast writer produce; older JDKs
 * occasionally print a longer spelling, which `fromSpring` then keeps verbatim).
 */
export function javaDouble(d: number): string {
  if (!Number.isFinite(d)) throw new InvalidAttributeError(`${d} has no JSON form`)
  if (d === 0) return Object.is(d, -0) ? '-0.0' : '0.0'
  const sign = d < 0 ? '-' : ''
  const a = Math.abs(d)
  const [mantissa, exp] = a.toExponential().split('e') as [string, string]
  const digits = mantissa.replace('.', '')
  const e = Number(exp)
  if (a >= 1e-3 && a < 1e7) {
    if (e >= 0) {
      const whole = digits.slice(0, e + 1).padEnd(e + 1, '0')
      const frac = digits.slice(e + 1)
      return `${sign}${whole}.${frac || '0'}`
    }
    return `${sign}0.${'0'.repeat(-e - 1)}${digits}`
  }
  return `${sign}${digits[0]}.${digits.slice(1) || '0'}E${e}`
}

/** A Java class name as Jackson writes type ids (`com.example.User`, `java.util.Map$Entry`, `[Ljava.lang.String;`, `[I`). */
const TYPE_ID = /^(?:[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+|\[+(?:[ZBCSIJFD]|L[A-Za-z_$][\w$.]*;))$/

/** The prefix of a Java String that carries a value that is not JSON (see the module comment). */
export const OPAQUE = 'sessionmesh:opaque:'
const HASH_MAP = 'java.util.HashMap'
const ARRAY_LIST = 'java.util.ArrayList'
const DOUBLE = 'java.lang.Double'

const verbatim = (text: string, n: { start: number; end: number }) => `{"@json":${JSON.stringify(text.slice(n.start, n.end))}}`

const ARRAY_INDEX = /^(?:0|[1-9]\d{0,9})$/
/** Whether JSON.parse would enumerate these keys in this order (array-index keys ascending first, then the rest as written). */
function inJsOrder(keys: string[]): boolean {
  const isIndex = (k: string) => ARRAY_INDEX.test(k) && Number(k) < 4294967295
  const indexes = keys.filter(isIndex).sort((a, b) => Number(a) - Number(b))
  const expected = [...indexes, ...keys.filter((k) => !isIndex(k))]
  return expected.every((k, i) => k === keys[i])
}

const keysAre = (entries: Entry[], ...names: string[]) =>
  entries.length === names.length && names.every((k) => entries.some((e) => e.key === k))

/** Jackson text (as Spring stored it) to sessionmesh's JSON text (JSON.stringify's spelling, so reads never look like changes). */
function toMesh(n: Node, text: string): string {
  switch (n.t) {
    case 'lit':
      return n.text
    case 'str':
      return jacksonString(n.value) === text.slice(n.start, n.end) ? JSON.stringify(n.value) : verbatim(text, n)
    case 'num': {
      const literal = text.slice(n.start, n.end)
      const v = Number(literal)
      if (INTEGER.test(literal)) return Number.isSafeInteger(v) && String(v) === literal ? literal : verbatim(text, n)
      if (!Number.isFinite(v) || Object.is(v, -0) || javaDouble(v) !== literal) return verbatim(text, n)
      // A whole Double must say so, or it would come back to Java as an Integer.
      return Number.isSafeInteger(v) ? `{"@class":"${DOUBLE}","@value":${String(v)}}` : JSON.stringify(v)
    }
    case 'arr': {
      const [hint, inner] = n.items
      if (n.items.length === 2 && hint?.t === 'str' && TYPE_ID.test(hint.value) && inner) {
        if (jacksonString(hint.value) !== text.slice(hint.start, hint.end) || hint.value === DOUBLE) return verbatim(text, n)
        const value = inner.t === 'arr' ? `[${inner.items.map((x) => toMesh(x, text)).join(',')}]` : toMesh(inner, text)
        if (hint.value === ARRAY_LIST && inner.t === 'arr') return value
        return `{"@class":${JSON.stringify(hint.value)},"@value":${value}}`
      }
      return `{"@class":null,"@value":[${n.items.map((x) => toMesh(x, text)).join(',')}]}`
    }
    case 'obj': {
      const seen = new Set<string>()
      for (const e of n.entries) {
        if (seen.has(e.key) || jacksonString(e.key) !== text.slice(e.keyStart, e.keyEnd)) return verbatim(text, n)
        seen.add(e.key)
      }
      const hintAt = n.entries.findIndex((e) => e.key === '@class')
      const hint = n.entries[hintAt]?.value
      let entries = n.entries
      let prefix = ''
      if (hint === undefined) {
        // No hint: the marker keeps it from gaining one when written back.
        if (keysAre(entries, '@value')) return verbatim(text, n)
        prefix = '"@class":null'
      } else if (hint.t !== 'str' || jacksonString(hint.value) !== text.slice(hint.start, hint.end)) {
        return verbatim(text, n)
      } else if (hint.value === HASH_MAP && hintAt === 0 && !keysAre(entries.slice(1), '@json')) {
        entries = entries.slice(1)
      } else if (keysAre(entries, '@class', '@value')) {
        return verbatim(text, n) // would read as a wrapper
      }
      // JavaScript enumerates integer-like keys first, whatever the text says: an object whose
      // order would change is kept verbatim, or writing it back would reorder Spring's bytes.
      const order = entries.map((e) => e.key)
      if (prefix) order.push('@class')
      if (!inJsOrder(order)) return verbatim(text, n)
      const body = entries.map((e) => `${JSON.stringify(e.key)}:${e.key === '@class' ? JSON.stringify((e.value as { value: string }).value) : toMesh(e.value, text)}`)
      return `{${[...body, prefix].filter(Boolean).join(',')}}`
    }
  }
}

/** sessionmesh JSON text to the Jackson text Spring reads (and would write for the same Java value). */
function toJackson(n: Node, text: string, name: string): string {
  switch (n.t) {
    case 'lit':
      return n.text
    case 'str':
      return jacksonString(n.value)
    case 'num': {
      const v = Number(text.slice(n.start, n.end))
      if (Number.isSafeInteger(v)) return String(v === 0 ? 0 : v)
      return javaDouble(v)
    }
    case 'arr':
      return `["${ARRAY_LIST}",[${n.items.map((x) => toJackson(x, text, name)).join(',')}]]`
    case 'obj': {
      const bad = (why: string) => new InvalidAttributeError(`attribute "${name}" cannot be written in Spring Session's JSON: ${why}`)
      const [only] = n.entries
      if (n.entries.length === 1 && only?.key === '@json') {
        if (only.value.t !== 'str') throw bad('"@json" must hold a JSON text')
        try {
          JSON.parse(only.value.value)
        } catch {
          throw bad('"@json" does not hold valid JSON')
        }
        return only.value.value
      }
      const hint = n.entries.find((e) => e.key === '@class')?.value
      const items = (v: Node) => (v.t === 'arr' ? `[${v.items.map((x) => toJackson(x, text, name)).join(',')}]` : toJackson(v, text, name))
      if (hint && keysAre(n.entries, '@class', '@value')) {
        const value = n.entries.find((e) => e.key === '@value')?.value as Node
        if (hint.t === 'lit' && hint.text === 'null') return items(value)
        if (hint.t !== 'str') throw bad('"@class" must be a Java class name or null')
        if (hint.value === DOUBLE) {
          if (value.t !== 'num') throw bad('a java.lang.Double "@value" must be a number')
          return javaDouble(Number(text.slice(value.start, value.end)))
        }
        return `[${jacksonString(hint.value)},${items(value)}]`
      }
      if (hint && !(hint.t === 'str' || (hint.t === 'lit' && hint.text === 'null'))) throw bad('"@class" must be a Java class name or null')
      const body: string[] = []
      if (!hint) body.push(`"@class":"${HASH_MAP}"`)
      for (const e of n.entries) {
        if (e.key === '@class' && hint?.t === 'lit') continue
        body.push(`${jacksonString(e.key)}:${toJackson(e.value, text, name)}`)
      }
      return `{${body.join(',')}}`
    }
  }
}

/**
 * A value as Spring stored it (Jackson's JSON) to the JSON sessionmesh hands the application.
 * Text that is not JSON is returned as is: reading that attribute then fails with
 * SessionDataError (e.g. a Spring application still on the JDK serializer).
 */
export function fromSpring(jackson: string): string {
  let root: Node
  try {
    root = parse(jackson)
  } catch (e) {
    if (e instanceof JsonSyntax && e.message === 'too deep') return `{"@json":${JSON.stringify(jackson)}}`
    return jackson
  }
  if (root.t === 'str' && root.value.startsWith(OPAQUE) && jacksonString(root.value) === jackson) return root.value.slice(OPAQUE.length)
  return toMesh(root, jackson)
}

/**
 * A value as sessionmesh encoded it (JSON, or any string for the store contract) to the
 * Jackson text Spring's GenericJackson2JsonRedisSerializer reads. InvalidAttributeError for
 * a malformed `@class` or `@json`.
 */
export function toSpring(json: string, name = '?'): string {
  let root: Node
  try {
    // Only JSON in JSON.stringify's own spelling is translated: anything else would not come
    // back as the same text, so it travels as an opaque string.
    if (JSON.stringify(JSON.parse(json)) !== json) return jacksonString(OPAQUE + json)
    root = parse(json)
  } catch {
    return jacksonString(OPAQUE + json)
  }
  if (root.t === 'str' && root.value.startsWith(OPAQUE)) return jacksonString(OPAQUE + json)
  return toJackson(root, json, name)
}

/** A Java `Long` inside a map or list (Jackson writes it as `["java.lang.Long", n]`); a plain number becomes an Integer. */
export function javaLong(n: number | bigint): { '@class': 'java.lang.Long'; '@value': number | { '@json': string } } {
  if (typeof n === 'bigint') return { '@class': 'java.lang.Long', '@value': { '@json': n.toString() } }
  if (!Number.isSafeInteger(n)) throw new InvalidAttributeError(`${n} is not a whole number JavaScript holds exactly; pass a bigint`)
  return { '@class': 'java.lang.Long', '@value': n }
}

/**
 * The value with Jackson's type information removed, for code that only wants the data:
 * `{"@class":...,"@value":v}` becomes `v`, `"@class"` keys are dropped, `{"@json":t}` is parsed.
 */
export function withoutTypes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutTypes)
  if (value === null || typeof value !== 'object') return value
  const o = value as Record<string, unknown>
  const keys = Object.keys(o)
  if (keys.length === 1 && keys[0] === '@json' && typeof o['@json'] === 'string') return withoutTypes(JSON.parse(o['@json']))
  if (keys.length === 2 && '@class' in o && '@value' in o) return withoutTypes(o['@value'])
  const out: Record<string, unknown> = {}
  for (const k of keys) if (k !== '@class') Object.defineProperty(out, k, { value: withoutTypes(o[k]), enumerable: true, writable: true, configurable: true })
  return out
}
