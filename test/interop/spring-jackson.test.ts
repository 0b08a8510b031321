/**
 * The attribute-value translation between sessionmesh's JSON and the JSON Spring Session
 * stores with GenericJackson2JsonRedisSerializer (src/interop/spring/jackson.ts), against
 * fixtures from Spring's own tests and, when a JDK and the Jackson jars are around, against
 * real Jackson configured as that serializer configures it (fixtures/spring/JacksonHarness.java).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { InvalidAttributeError } from '../../src/core/errors.js'
import { fromSpring, jacksonString, javaDouble, javaLong, OPAQUE, toSpring, withoutTypes } from '../../src/interop/spring/jackson.js'
import { springSessionTokens } from '../../src/interop/spring/tokens.js'
import { jacksonHarness } from './fixtures/spring/harness.js'
import { AS_SEEN_IN_NODE, DATA_REDIS, HARNESS, SECURITY } from './fixtures/spring/jackson-fixtures.js'
import { JAVADOC_SESSION } from './fixtures/spring/spring-writes.js'

const SPRING_TEXTS: Record<string, string> = {
  ...Object.fromEntries(Object.entries(DATA_REDIS).map(([k, v]) => [`data-redis ${k}`, v])),
  ...Object.fromEntries(Object.entries(SECURITY).map(([k, v]) => [`spring-security ${k}`, v])),
  ...Object.fromEntries(Object.entries(HARNESS).map(([k, v]) => [`jackson ${k}`, v])),
}

/** What the application gets for a stored value: the parsed JSON, or the opaque string itself. */
function view(stored: string): unknown {
  const seen = fromSpring(stored)
  try {
    return JSON.parse(seen)
  } catch {
    return seen
  }
}

/** Keys the translation reserves inside objects: values using them are interpreted, not kept as text. */
const usesReservedKeys = (json: string) => /"@(class|value|json)"/.test(json)

describe('Spring Jackson values: what Spring wrote comes back byte for byte', () => {
  for (const [name, text] of Object.entries(SPRING_TEXTS)) {
    it(`${name}: toSpring(fromSpring(x)) === x, and the Node view is stable JSON`, () => {
      const seen = fromSpring(text)
      assert.equal(JSON.stringify(JSON.parse(seen)), seen, 'in JSON.stringify spelling, so reading it never looks like a change')
      assert.equal(toSpring(seen), text)
    })
  }

  it('presents maps, lists and typed values as documented', () => {
    for (const [name, expected] of Object.entries(AS_SEEN_IN_NODE)) {
      assert.deepEqual(JSON.parse(fromSpring(HARNESS[name] as string)), expected, name)
    }
    const context = JSON.parse(fromSpring(SECURITY.securityContextWithUser)) as { authentication: { principal: { username: string }; authorities: unknown } }
    assert.equal(context.authentication.principal.username, 'admin')
    assert.deepEqual(context.authentication.authorities, {
      '@class': 'java.util.Collections$UnmodifiableRandomAccessList',
      '@value': [{ '@class': 'org.springframework.security.core.authority.SimpleGrantedAuthority', authority: 'ROLE_USER' }],
    })
    // A bean's int[] field has no hint, and stays hint-less.
    assert.deepEqual(JSON.parse(fromSpring(DATA_REDIS.finalObject)), {
      '@class': 'org.springframework.data.redis.serializer.GenericJackson2JsonRedisSerializerUnitTests$FinalObject',
      longValue: 1,
      myArray: { '@class': null, '@value': [1, 2, 3] },
      simpleObject: { '@class': 'org.springframework.data.redis.serializer.GenericJackson2JsonRedisSerializerUnitTests$SimpleObject', longValue: 2 },
    })
    assert.deepEqual(withoutTypes(JSON.parse(fromSpring(HARNESS.hashMap as string))), { note: null, total: 19.5, ownerId: 42, items: ['sku-1', 'sku-2'] })
  })

  it('keeps spellings JavaScript would change as verbatim text', () => {
    for (const text of ['-0', '9223372036854775807', '-0.0', '1.0e5', '"\\u00e9"', '"a\\/b"', '{"a":1,"a":2}', '4.9E-324', ' 1', '[1, 2]']) {
      const seen = fromSpring(text)
      assert.equal(JSON.stringify(JSON.parse(seen)), seen, text)
      assert.equal(toSpring(seen), text.trim().replace(', ', ','), text)
    }
    assert.deepEqual(JSON.parse(fromSpring('["java.lang.Long",9223372036854775807]')), { '@class': 'java.lang.Long', '@value': { '@json': '9223372036854775807' } })
  })

  it('hands text that is not JSON through, so reading it fails loudly (SessionDataError) rather than quietly', () => {
    const jdk = '\u00ac\u00ed\u0000\u0005t\u0000\u0005alice'
    assert.equal(fromSpring(jdk), jdk)
  })
})

describe('Spring Jackson values: Node values are written as Jackson writes the same Java values', () => {
  it('maps become HashMaps, lists ArrayLists, numbers Integers/Longs/Doubles, strings with Jackson escapes', () => {
    assert.equal(toSpring('{"name":"alice","roles":["admin"]}'), '{"@class":"java.util.HashMap","name":"alice","roles":["java.util.ArrayList",["admin"]]}')
    assert.equal(toSpring('[]'), HARNESS.emptyList)
    assert.equal(toSpring('{}'), HARNESS.emptyMap)
    assert.equal(toSpring('1404360000000'), HARNESS.long)
    assert.equal(toSpring('0.1'), HARNESS.fraction)
    assert.equal(toSpring('12345678'), '12345678')
    assert.equal(toSpring('12345678.5'), '1.23456785E7')
    assert.equal(toSpring(JSON.stringify({ '@class': 'java.lang.Double', '@value': 10 })), HARNESS.double)
    assert.equal(toSpring(JSON.stringify('tab\tnewline\nquote"backslash\\unit\u001fdel\u007f\u2028\u00e9')), HARNESS.escapes)
    assert.equal(toSpring(JSON.stringify({ id: javaLong(42) })), '{"@class":"java.util.HashMap","id":["java.lang.Long",42]}')
    assert.equal(toSpring(JSON.stringify({ id: javaLong(9007199254740993n) })), '{"@class":"java.util.HashMap","id":["java.lang.Long",9007199254740993]}')
  })

  it('javaDouble spells doubles as Java does', () => {
    const cases: Array<[number, string]> = [
      [10, '10.0'], [0.1, '0.1'], [-1.5, '-1.5'], [0.001, '0.001'], [0.0001, '1.0E-4'], [1e7, '1.0E7'],
      [9999999.5, '9999999.5'], [1.2345678e7, '1.2345678E7'], [1e21, '1.0E21'], [123.456, '123.456'], [0, '0.0'], [-0, '-0.0'],
    ]
    for (const [d, java] of cases) assert.equal(javaDouble(d), java, String(d))
  })

  it('jacksonString escapes as Jackson does, lone surrogates included', () => {
    assert.equal(jacksonString('\u0000\u001f\b\f\r'), '"\\u0000\\u001F\\b\\f\\r"')
    // Outside the BMP, UTF8JsonGenerator writes the surrogate pair escaped (checked against Jackson below).
    assert.equal(jacksonString('\ud83d\ude42 \ud800'), '"\\uD83D\\uDE42 \\uD800"')
  })

  it('refuses type markers that no Java value matches', () => {
    assert.throws(() => toSpring('{"@class":5}', 'x'), InvalidAttributeError)
    assert.throws(() => toSpring('{"@json":"{not json"}', 'x'), InvalidAttributeError)
    assert.throws(() => toSpring('{"@json":1}', 'x'), InvalidAttributeError)
    assert.throws(() => toSpring('{"@class":"java.lang.Double","@value":"x"}', 'x'), InvalidAttributeError)
  })

  it('stores any other string unchanged, as a Java String Spring can read (the store contract: values are opaque)', () => {
    for (const v of ['fenced-5', 'e1.AbCdEfGh.sealed-by-encryption', '', ' 1', '1.0', '{"a" : 1}', `"${OPAQUE}x"`]) {
      const stored = toSpring(v)
      assert.ok(stored.startsWith(`"${OPAQUE}`), v)
      assert.equal(fromSpring(stored), v)
    }
  })
})

describe('Spring Jackson values: properties', () => {
  const json = fc.jsonValue().map((v) => JSON.stringify(v)).filter((s) => s !== undefined && !usesReservedKeys(s))

  it('any Node JSON value is read back as the same text', () => {
    fc.assert(fc.property(json, (s) => fromSpring(toSpring(s)) === s), { numRuns: 2000 })
  })

  it('any string at all is read back as the same string', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.json()), (s) => fromSpring(toSpring(s)) === s), { numRuns: 2000 })
  })

  it('any compact JSON text Spring holds is written back byte for byte', () => {
    const javaNumber = fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => javaDouble(d))
    const jacksonLike = fc.oneof(
      json.map((s) => toSpring(s)),
      fc.json(),
      javaNumber,
      fc.tuple(javaNumber, json).map(([n, s]) => `{"@class":"java.util.HashMap","n":${n},"v":${toSpring(s)}}`),
    )
    fc.assert(fc.property(jacksonLike, (t) => toSpring(fromSpring(t)) === t), { numRuns: 2000 })
  })
})

describe('Spring Jackson values: against real Jackson (JacksonHarness.java)', async () => {
  const harness = await jacksonHarness()
  const skip = harness ? false : 'no JDK or jackson-databind jars (set JACKSON_JARS)'

  it('the recorded fixtures are what Jackson writes', { skip }, async () => {
    assert.deepEqual(await harness!.fixtures(), HARNESS)
  })

  it('Jackson reads every value Node writes, as the Java type intended, and its re-serialization reads back equal', { skip }, async () => {
    const node: Array<[string, string]> = [
      ['"alice"', 'java.lang.String'],
      ['42', 'java.lang.Integer'],
      ['1404360000000', 'java.lang.Long'],
      ['true', 'java.lang.Boolean'],
      ['1.5', 'java.lang.Double'],
      ['12345678.5', 'java.lang.Double'],
      [JSON.stringify({ '@class': 'java.lang.Double', '@value': 10 }), 'java.lang.Double'],
      ['{"user":{"id":42,"roles":["admin"]},"cart":[1,2.5,"x",null],"empty":{},"none":[]}', 'java.util.HashMap'],
      ['[[1,[2]],{"a":null}]', 'java.util.ArrayList'],
      [JSON.stringify({ when: { '@class': 'java.util.Date', '@value': 1404360000000 }, n: javaLong(7) }), 'java.util.HashMap'],
      [JSON.stringify({ s: { '@class': 'java.util.HashSet', '@value': ['x'] } }), 'java.util.HashMap'],
      [JSON.stringify('tab\tnewline\nquote"backslash\\unit\u001f\u2028\ud83d\ude42'), 'java.lang.String'],
      ['fenced-5', 'java.lang.String'],
      // Spring's own texts, read in Node and written back (beans need their classes, so are
      // left out; so is a top-level String[], which Jackson writes without a hint and then cannot read itself).
      ...Object.values(SPRING_TEXTS)
        .filter((t) => !t.includes('org.springframework') && t !== HARNESS.stringArray)
        .map((t): [string, string] => [fromSpring(t), '']),
    ]
    const written = node.map(([v]) => toSpring(v))
    const read = await harness!.roundtrip(written)
    node.forEach(([value, javaClass], i) => {
      const r = read[i]!
      assert.notEqual(r.javaClass, 'ERROR', `${value}: ${r.text}`)
      if (javaClass) assert.equal(r.javaClass, javaClass, value)
      // HashMap iteration order is Java's own, so compare values, not bytes.
      assert.deepEqual(view(r.text), view(written[i]!), value)
    })
  })

  it('java.util.Base64 (DefaultCookieSerializer) and springSessionTokens agree on the SESSION cookie', { skip }, async () => {
    const tokens = springSessionTokens()
    const ids = [JAVADOC_SESSION.id, ...Array.from({ length: 20 }, () => tokens.newId())]
    const java = await harness!.cookie(ids.map((id) => tokens.issue(id)))
    ids.forEach((id, i) => {
      assert.equal(java[i]!.id, id)
      assert.equal(java[i]!.encoded, tokens.issue(id))
    })
    assert.equal(tokens.issue(JAVADOC_SESSION.id), JAVADOC_SESSION.cookie)
  })
})
