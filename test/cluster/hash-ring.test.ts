// Properties of the consistent-hash ring, its bounded-load mode and the rendezvous variant:
// the hash itself, balance and movement over many seeds (the figures docs/RING.md quotes come
// from the diagnostics these tests print), determinism, churn, weights and validation.
// Statistical checks use seeded generators, so every run sees the same keys and nodes.
import assert from 'node:assert/strict'
import { before, describe, it, type TestContext } from 'node:test'
import fc from 'fast-check'
import { BoundedLoadRing, DEFAULT_VNODES, HashRing, murmur3, RendezvousHash, type Ring } from '../../src/cluster/index.js'
import { ConfigurationError } from '../../src/core/errors.js'
import { nodeIds, prng, sessionIds } from '../../harness/ring-data.js'

const SEEDS = 30
const KEYS = 100_000


function loads(ring: Ring, keys: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>(ring.nodes.map((n) => [n, 0]))
  for (const key of keys) {
    const owner = ring.owner(key)
    counts.set(owner, (counts.get(owner) ?? 0) + 1)
  }
  return counts
}

/** Upper median, worst and mean of a sample. */
function summary(values: number[]): { median: number; worst: number; mean: number } {
  const sorted = [...values].sort((a, b) => a - b)
  return {
    median: sorted[sorted.length >> 1] as number,
    worst: sorted[sorted.length - 1] as number,
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
  }
}

const fmt = (x: number) => x.toFixed(3)

/** MurmurHash3_x86_32 over bytes, written from the reference C, to check the string version against. */
function murmur3Bytes(data: Uint8Array, seed: number): number {
  let h = seed | 0
  const blocks = data.length & ~3
  const c1 = 0xcc9e2d51
  const c2 = 0x1b873593
  for (let i = 0; i < blocks; i += 4) {
    let k = (data[i] as number) | ((data[i + 1] as number) << 8) | ((data[i + 2] as number) << 16) | ((data[i + 3] as number) << 24)
    k = Math.imul(k, c1)
    k = Math.imul((k << 15) | (k >>> 17), c2)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  let k = 0
  const tail = data.length & 3
  if (tail === 3) k ^= (data[blocks + 2] as number) << 16
  if (tail >= 2) k ^= (data[blocks + 1] as number) << 8
  if (tail >= 1) {
    k ^= data[blocks] as number
    k = Math.imul(k, c1)
    h ^= Math.imul((k << 15) | (k >>> 17), c2)
  }
  h ^= data.length
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

type RingKind = 'HashRing' | 'RendezvousHash'
const make = (kind: RingKind, nodes: Iterable<string | { id: string; weight?: number }> = [], seed?: number): Ring =>
  kind === 'HashRing' ? new HashRing({ nodes, seed }) : new RendezvousHash({ nodes, seed })

interface SeedRun {
  seed: number
  /** Most keys on one of the 10 nodes over the mean. */
  maxOverMean: number
  /** Keys that moved when an 11th node joined, over the ideal 1/11. */
  joinMoved: number
  /** The first key that moved somewhere other than the new node, if any. */
  joinStray?: string
  /** Keys that moved when one of the 10 left, over the ideal 1/10. */
  leaveMoved: number
  /** The first key that moved though its node stayed (or stayed on the node that left), if any. */
  leaveStray?: string
}

function runSeed(kind: RingKind, seed: number): SeedRun {
  const random = prng(seed)
  const [joining, ...nodes] = nodeIds(random, 11) as [string, ...string[]]
  const leaving = nodes[random() % nodes.length] as string
  const ring = make(kind, nodes)
  const joined = ring.clone().add(joining)
  const left = ring.clone()
  left.remove(leaving)
  const counts = new Array<number>(nodes.length).fill(0)
  const run: SeedRun = { seed, maxOverMean: 0, joinMoved: 0, leaveMoved: 0 }
  let joinMoved = 0
  let leaveMoved = 0
  for (const key of sessionIds(random, KEYS)) {
    const owner = ring.owner(key)
    const i = nodes.indexOf(owner)
    counts[i] = (counts[i] as number) + 1
    const afterJoin = joined.owner(key)
    if (afterJoin !== owner) {
      joinMoved++
      if (afterJoin !== joining) run.joinStray ??= `${key} moved from ${owner} to ${afterJoin}, not to the new node`
    }
    const afterLeave = left.owner(key)
    if (owner === leaving) leaveMoved++
    if (afterLeave === leaving || (owner !== leaving && afterLeave !== owner)) {
      run.leaveStray ??= `${key} went from ${owner} to ${afterLeave} when ${leaving} left`
    }
  }
  run.maxOverMean = Math.max(...counts) / (KEYS / nodes.length)
  run.joinMoved = (joinMoved / KEYS) * (nodes.length + 1)
  run.leaveMoved = (leaveMoved / KEYS) * nodes.length
  return run
}

describe('murmur3', () => {
  it('matches the published MurmurHash3_x86_32 test vectors', () => {
    const latin1 = (s: string) => Buffer.from(s, 'latin1')
    assert.equal(murmur3Bytes(latin1(''), 0), 0)
    assert.equal(murmur3Bytes(latin1(''), 1), 0x514e28b7)
    assert.equal(murmur3Bytes(latin1(''), 0xffffffff), 0x81f16f39)
    assert.equal(murmur3Bytes(Buffer.from([0, 0, 0, 0]), 0), 0x2362f9de)
    assert.equal(murmur3Bytes(latin1('aaaa'), 0x9747b28c), 0x5a97808a)
    assert.equal(murmur3Bytes(latin1('abc'), 0), 0xb3dd93fa)
    assert.equal(murmur3Bytes(latin1('Hello, world!'), 0x9747b28c), 0x24884cba)
    assert.equal(murmur3Bytes(latin1('The quick brown fox jumps over the lazy dog'), 0x9747b28c), 0x2fa826cd)
  })

  it("is MurmurHash3_x86_32 of the string's UTF-16LE bytes, for any string and seed", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' })), fc.nat({ max: 0xffffffff }), (s, seed) => {
        const h = murmur3(s, seed)
        assert.equal(h, murmur3Bytes(Buffer.from(s, 'utf16le'), seed))
        assert.ok(Number.isInteger(h) && h >= 0 && h <= 0xffffffff)
      }),
      { numRuns: 500 },
    )
    assert.equal(murmur3('jaCvHoV2IY0HWrdsatlL1HyDn1HwweD3'), murmur3Bytes(Buffer.from('jaCvHoV2IY0HWrdsatlL1HyDn1HwweD3', 'utf16le'), 0))
  })
})

for (const kind of ['HashRing', 'RendezvousHash'] as const) {
  describe(`${kind}: balance and movement over ${SEEDS} seeds (10 nodes, ${KEYS / 1000}k session ids)`, () => {
    // One pass per seed serves the three tests: the 10-node ring, the same ring after an
    // 11th node joins, and after one of the 10 leaves.
    const seeds: SeedRun[] = []
    before(() => {
      for (let seed = 1; seed <= SEEDS; seed++) seeds.push(runSeed(kind, seed))
    })

    it('max/mean load <= 1.25 for every seed and <= 1.15 for the median seed', (t: TestContext) => {
      for (const { seed, maxOverMean } of seeds) assert.ok(maxOverMean <= 1.25, `seed ${seed}: max/mean ${fmt(maxOverMean)}`)
      const s = summary(seeds.map((r) => r.maxOverMean))
      t.diagnostic(`${kind} max/mean: median ${fmt(s.median)}, worst ${fmt(s.worst)}, mean ${fmt(s.mean)}`)
      assert.ok(s.median <= 1.15, `median max/mean ${fmt(s.median)}`)
    })

    it('a join moves <= 1.1 x 1/(n+1) of the keys, every one of them to the new node', (t: TestContext) => {
      for (const { seed, joinMoved, joinStray } of seeds) {
        assert.equal(joinStray, undefined, `seed ${seed}: ${joinStray}`)
        assert.ok(joinMoved <= 1.1, `seed ${seed}: moved ${fmt(joinMoved)} x 1/(n+1)`)
      }
      const s = summary(seeds.map((r) => r.joinMoved))
      t.diagnostic(`${kind} join, moved / (1/(n+1)): median ${fmt(s.median)}, worst ${fmt(s.worst)}, mean ${fmt(s.mean)}`)
    })

    it("a leave moves only the leaving node's keys", (t: TestContext) => {
      for (const { seed, leaveStray } of seeds) assert.equal(leaveStray, undefined, `seed ${seed}: ${leaveStray}`)
      const s = summary(seeds.map((r) => r.leaveMoved))
      t.diagnostic(`${kind} leave, moved / (1/n): median ${fmt(s.median)}, worst ${fmt(s.worst)}, mean ${fmt(s.mean)}`)
    })
  })

  describe(`${kind}: properties`, () => {
    const nodeSet = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 12 })
    const keys = sessionIds(prng(99), 300).concat(['', 'a', 'user:42', '😀', 'x'.repeat(300)])

    it('depends only on the set of nodes and weights, not the order they arrived in', () => {
      fc.assert(
        fc.property(
          nodeSet.chain((ids) =>
            fc.tuple(fc.constant(ids), fc.array(fc.constantFrom(1, 0.5, 2, 0.003), { minLength: ids.length, maxLength: ids.length }), fc.shuffledSubarray(ids, { minLength: ids.length })),
          ),
          ([ids, weights, order]) => {
            const specs = ids.map((id, i) => ({ id, weight: weights[i] as number }))
            const weightOf = new Map(specs.map((s) => [s.id, s.weight]))
            const built = make(kind, specs)
            const added = make(kind)
            for (const id of order) added.add(id, { weight: weightOf.get(id) as number })
            const reversed = make(kind, [...specs].reverse())
            for (const key of keys) {
              assert.equal(added.owner(key), built.owner(key))
              assert.equal(reversed.owner(key), built.owner(key))
              assert.deepEqual(added.owners(key, 3), built.owners(key, 3))
            }
          },
        ),
        { numRuns: 40 },
      )
    })

    it('after any sequence of adds, removes and weight changes, equals a ring built from the final set', () => {
      type Op = { op: 'add'; id: string; weight: number } | { op: 'remove'; id: string } | { op: 'weight'; id: string; weight: number }
      const id = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'node#1', 'node')
      const weight = fc.constantFrom(1, 0.25, 0.5, 1.5, 3)
      const op: fc.Arbitrary<Op> = fc.oneof(
        fc.record({ op: fc.constant('add' as const), id, weight }),
        fc.record({ op: fc.constant('remove' as const), id }),
        fc.record({ op: fc.constant('weight' as const), id, weight }),
      )
      fc.assert(
        fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
          const ring = make(kind)
          const model = new Map<string, number>()
          for (const o of ops) {
            if (o.op === 'add' && !model.has(o.id)) {
              ring.add(o.id, { weight: o.weight })
              model.set(o.id, o.weight)
            } else if (o.op === 'remove') {
              assert.equal(ring.remove(o.id), model.delete(o.id))
            } else if (o.op === 'weight' && model.has(o.id)) {
              ring.setWeight(o.id, o.weight)
              model.set(o.id, o.weight)
            }
          }
          assert.deepEqual(ring.nodes, [...model.keys()])
          assert.equal(ring.size, model.size)
          const fresh = make(
            kind,
            [...model].map(([id, weight]) => ({ id, weight })),
          )
          for (const [id, w] of model) assert.equal(ring.weightOf(id), w)
          if (ring instanceof HashRing && fresh instanceof HashRing) assert.equal(ring.points, fresh.points)
          if (model.size === 0) return
          for (const key of keys) {
            assert.equal(ring.owner(key), fresh.owner(key))
            assert.deepEqual(ring.owners(key, 4), fresh.owners(key, 4))
          }
        }),
        { numRuns: 150 },
      )
    })

    it('owners(key, n): distinct, owner first, and the next one is the owner once the first leaves', () => {
      const nodes = nodeIds(prng(7), 8)
      const ring = make(kind, nodes)
      const out: string[] = ['stale', 'entries', 'are', 'cleared', 'x', 'y', 'z', 'w', 'v', 'u']
      for (const key of keys) {
        const all = ring.owners(key, 20)
        assert.equal(all.length, nodes.length)
        assert.deepEqual([...all].sort(), [...nodes].sort())
        assert.equal(all[0], ring.owner(key))
        assert.equal(ring.owners(key, 3, out), out)
        assert.deepEqual(out, all.slice(0, 3))
        assert.deepEqual(ring.owners(key, 0), [])
        // The preference list is the failover order: remove the owner and the second takes over.
        const without = ring.clone()
        without.remove(all[0])
        assert.equal(without.owner(key), all[1])
        assert.deepEqual(without.owners(key, 20), all.slice(1))
      }
      assert.deepEqual(make(kind).owners('k', 3), [])
      assert.throws(() => ring.owners('k', -1), RangeError)
      assert.throws(() => ring.owners('k', 1.5), RangeError)
    })

    it('shares follow weights, and a weight change moves keys only to or from that node', (t: TestContext) => {
      const weights = [1, 2, 3, 4, 0.5]
      const random = prng(11)
      const nodes = nodeIds(random, weights.length)
      const ring = make(
        kind,
        nodes.map((id, i) => ({ id, weight: weights[i] as number })),
      )
      const sample = sessionIds(random, KEYS)
      const counts = loads(ring, sample)
      const total = weights.reduce((a, b) => a + b, 0)
      const ratios = nodes.map((id, i) => (counts.get(id) as number) / KEYS / ((weights[i] as number) / total))
      t.diagnostic(`${kind} share / weighted share for weights ${weights.join(', ')}: ${ratios.map(fmt).join(', ')}`)
      for (const r of ratios) assert.ok(r > 0.88 && r < 1.12, `share / weighted share ${fmt(r)}`)

      const target = nodes[1] as string
      const before = ring.clone()
      ring.setWeight(target, 0.5)
      let moved = 0
      for (const key of sample) {
        const was = before.owner(key)
        const is = ring.owner(key)
        if (was !== is) {
          assert.equal(was, target, 'a lighter node only gives keys away')
          moved++
        }
      }
      // The node's expected share goes from 2 / 10.5 to 0.5 / 9 of the keys.
      const expected = (counts.get(target) as number) * (1 - 0.5 / 9 / (2 / 10.5))
      assert.ok(Math.abs(moved - expected) / expected < 0.15, `moved ${moved}, expected about ${expected}`)
      const lighter = ring.clone()
      ring.setWeight(target, 2)
      for (const key of sample) {
        const was = lighter.owner(key)
        const is = ring.owner(key)
        if (was !== is) assert.equal(is, target, 'a heavier node only takes keys')
        assert.equal(is, before.owner(key), 'back to the same weight, back to the same owners')
      }
    })

    it('clones are independent both ways', () => {
      const ring = make(kind, ['a', 'b', 'c'])
      const copy = ring.clone()
      copy.add('d')
      ring.remove('a')
      ring.setWeight('b', 3)
      assert.deepEqual(ring.nodes, ['b', 'c'])
      assert.deepEqual(copy.nodes, ['a', 'b', 'c', 'd'])
      assert.equal(copy.weightOf('b'), 1)
      const fresh = make(kind, ['a', 'b', 'c', 'd'])
      for (const key of keys) assert.equal(copy.owner(key), fresh.owner(key))
    })

    it('a seed gives an unrelated placement, the same on every instance', () => {
      const nodes = nodeIds(prng(3), 10)
      const a = make(kind, nodes, 1)
      const b = make(kind, nodes, 1)
      const c = make(kind, nodes, 2)
      let same = 0
      for (const key of keys) {
        assert.equal(a.owner(key), b.owner(key))
        if (a.owner(key) === c.owner(key)) same++
      }
      assert.ok(same < keys.length * 0.25, `${same} of ${keys.length} keys kept their owner under another seed`)
    })

    it('validates its inputs with ConfigurationError', () => {
      const ring = make(kind, ['a'])
      assert.throws(() => ring.add('a'), ConfigurationError)
      assert.throws(() => ring.add(''), ConfigurationError)
      assert.throws(() => ring.add(42 as unknown as string), ConfigurationError)
      for (const weight of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '2' as unknown as number]) {
        assert.throws(() => ring.add('b', { weight }), ConfigurationError)
        assert.throws(() => ring.setWeight('a', weight), ConfigurationError)
      }
      assert.equal(ring.has('b'), false)
      assert.throws(() => ring.setWeight('zz', 1), ConfigurationError)
      assert.throws(() => make(kind, ['x', 'y', 'x']), /listed twice/)
      assert.throws(() => make(kind, ['x'], -1), ConfigurationError)
      assert.throws(() => make(kind, ['x'], 1.5), ConfigurationError)
      assert.throws(() => make(kind, ['x'], 2 ** 32), ConfigurationError)
      assert.equal(ring.remove('zz'), false)
      assert.equal(ring.remove('a'), true)
      assert.throws(() => ring.owner('k'), (e: unknown) => e instanceof ConfigurationError && /no nodes/.test(e.message))
      assert.throws(() => make(kind).owner('k'), ConfigurationError)
    })
  })
}

describe('HashRing', () => {
  it(`defaults to ${DEFAULT_VNODES} points per unit of weight`, () => {
    assert.equal(DEFAULT_VNODES, 1000)
    const ring = new HashRing({ nodes: ['a', { id: 'b', weight: 2 }, { id: 'c', weight: 0.0001 }] })
    assert.equal(ring.vnodes, DEFAULT_VNODES)
    assert.equal(ring.points, 1000 + 2000 + 1) // every node keeps at least one point
    assert.equal(new HashRing({ vnodes: 7, nodes: ['a', 'b'] }).points, 14)
    for (const vnodes of [0, -1, 1.5, Number.NaN, 2 ** 21]) assert.throws(() => new HashRing({ vnodes }), ConfigurationError)
    assert.throws(() => new HashRing({ nodes: [{ id: 'a', weight: 1e4 }] }), ConfigurationError)
  })

  it('orders points at the same position by node id, whatever the insertion order', () => {
    // A real 32-bit collision: with one point per node, both nodes sit at the same position.
    const [x, y] = ['n392', 'n48499']
    assert.equal(murmur3(`${x}#0`), murmur3(`${y}#0`))
    const others = ['p', 'q', 'r', 's']
    const rings = [
      new HashRing({ vnodes: 1, nodes: [x, y, ...others] }),
      new HashRing({ vnodes: 1, nodes: [...others, y, x] }),
      new HashRing({ vnodes: 1 }).add(y).add('p').add(x).add('q').add('r').add('s'),
      new HashRing({ vnodes: 1 }).add(x).add(y).add('p').add('q').add('r').add('s'),
    ]
    const sample = sessionIds(prng(5), 2000)
    let atTie = 0
    for (const key of sample) {
      const expected = rings[0]?.owners(key, 6)
      for (const ring of rings) assert.deepEqual(ring.owners(key, 6), expected)
      if (expected?.[0] === x) {
        assert.equal(expected[1], y, 'the tied node is next in line')
        atTie++
      }
      assert.notEqual(expected?.[0], y, 'the smaller id comes first at a tie, so the other owns no range')
    }
    assert.ok(atTie > 0)
  })

  it('stays consistent with many nodes and reused node indices', () => {
    const random = prng(21)
    const ids = nodeIds(random, 300)
    const ring = new HashRing({ vnodes: 20, nodes: ids.slice(0, 200) })
    for (const id of ids.slice(0, 150)) ring.remove(id)
    for (const id of ids.slice(200)) ring.add(id, { weight: 1 + (random() % 3) })
    const fresh = new HashRing({ vnodes: 20, nodes: ring.nodes.map((id) => ({ id, weight: ring.weightOf(id) as number })) })
    for (const key of sessionIds(random, 5000)) assert.equal(ring.owner(key), fresh.owner(key))
  })
})

describe('BoundedLoadRing', () => {
  it('never takes a node past ceil(c x average) (Mirrokni et al.), even under a skewed key load', (t: TestContext) => {
    for (const factor of [1, 1.1, 1.25, 2]) {
      const random = prng(100) // the same nodes and keys for every factor
      const nodes = nodeIds(random, 10)
      const ring = new BoundedLoadRing({ nodes, factor })
      // A few hot keys and many cold ones: most placements contend for the hot keys' owners.
      const hot = sessionIds(random, 5)
      const cold = sessionIds(random, 20_000)
      let spilled = 0
      for (let i = 0; i < 20_000; i++) {
        const key = random() % 2 === 0 ? (hot[random() % hot.length] as string) : (cold[i] as string)
        const node = ring.acquire(key)
        if (node !== ring.owner(key)) spilled++
        const cap = Math.ceil((factor * ring.totalLoad) / nodes.length)
        assert.ok(ring.loadOf(node) <= cap, `factor ${factor}: ${ring.loadOf(node)} on ${node}, over ${cap}`)
      }
      const max = Math.max(...nodes.map((n) => ring.loadOf(n)))
      assert.ok(max <= Math.ceil((factor * 20_000) / nodes.length))
      assert.equal(
        nodes.reduce((sum, n) => sum + ring.loadOf(n), 0),
        20_000,
      )
      t.diagnostic(`factor ${factor}: max/mean load ${fmt(max / 2000)}, ${((spilled / 20_000) * 100).toFixed(1)}% placed off their owner`)
    }
  })

  it('acquire takes the first node in preference order that is below its capacity, through any mix of operations', () => {
    type Op = { op: 'acquire'; key: string } | { op: 'release'; pick: number } | { op: 'add'; id: string; weight: number } | { op: 'remove'; pick: number }
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ op: fc.constant('acquire' as const), key: fc.constantFrom('k1', 'k2', 'k3', 'k4', 'hot', 'hot', 'hot') }) },
      { weight: 3, arbitrary: fc.record({ op: fc.constant('release' as const), pick: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('add' as const), id: fc.constantFrom('a', 'b', 'c', 'd', 'e'), weight: fc.constantFrom(1, 0.5, 2) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('remove' as const), pick: fc.nat() }) },
    )
    fc.assert(
      fc.property(fc.constantFrom(1, 1.25, 1.5), fc.array(op, { maxLength: 80 }), (factor, ops) => {
        const ring = new BoundedLoadRing({ vnodes: 16, factor, nodes: ['a', 'b'] })
        let held: string[] = []
        for (const o of ops) {
          if (o.op === 'acquire') {
            if (ring.size === 0) {
              assert.throws(() => ring.acquire(o.key), ConfigurationError)
              continue
            }
            const capacities = new Map(ring.nodes.map((n) => [n, ring.capacityOf(n) as number]))
            const expected = ring.owners(o.key, ring.size).find((n) => ring.loadOf(n) < (capacities.get(n) as number))
            const node = ring.acquire(o.key)
            assert.equal(node, expected)
            const weight = ring.weightOf(node) as number
            const totalWeight = ring.nodes.reduce((s, n) => s + (ring.weightOf(n) as number), 0)
            assert.ok(ring.loadOf(node) <= Math.ceil((factor * ring.totalLoad * weight) / totalWeight + 1e-9))
            held.push(node)
          } else if (o.op === 'release' && held.length > 0) {
            const [node] = held.splice(o.pick % held.length, 1) as [string]
            assert.equal(ring.release(node), ring.has(node))
          } else if (o.op === 'add' && !ring.has(o.id)) {
            ring.add(o.id, { weight: o.weight })
            assert.equal(ring.loadOf(o.id), 0)
          } else if (o.op === 'remove' && ring.size > 0) {
            const node = ring.nodes[o.pick % ring.size] as string
            const before = ring.totalLoad
            const load = ring.loadOf(node)
            ring.remove(node)
            held = held.filter((n) => n !== node) // what it held is gone with it
            assert.equal(ring.totalLoad, before - load)
            assert.equal(ring.loadOf(node), 0)
          }
          assert.equal(
            ring.totalLoad,
            ring.nodes.reduce((s, n) => s + ring.loadOf(n), 0),
          )
        }
      }),
      { numRuns: 200 },
    )
  })

  it('is the plain ring while nodes have room; release, clone and options', () => {
    const nodes = nodeIds(prng(8), 5)
    const ring = new BoundedLoadRing({ nodes, factor: 1.5 })
    const plain = new HashRing({ nodes })
    for (const key of sessionIds(prng(9), 200)) {
      assert.equal(ring.owner(key), plain.owner(key))
      const node = ring.acquire(key)
      assert.equal(node, plain.owner(key), 'one unit at a time always fits')
      assert.equal(ring.release(node), true)
    }
    assert.equal(ring.totalLoad, 0)
    assert.equal(ring.release(nodes[0] as string), false, 'nothing to release')
    assert.equal(ring.release('nope'), false)
    assert.equal(ring.loadOf('nope'), 0)
    assert.equal(ring.capacityOf('nope'), undefined)
    assert.equal(ring.capacityOf(nodes[0] as string), Math.ceil((1.5 * 1) / 5))

    const node = ring.acquire('k')
    const copy = ring.clone()
    assert.ok(copy instanceof BoundedLoadRing)
    assert.equal(copy.factor, 1.5)
    assert.equal(copy.loadOf(node), 1)
    copy.release(node)
    assert.equal(ring.loadOf(node), 1, 'the original keeps its load')
    assert.equal(copy.loadOf(node), 0)

    for (const factor of [0.99, 0, -1, Number.NaN, Number.POSITIVE_INFINITY]) assert.throws(() => new BoundedLoadRing({ factor }), ConfigurationError)
    assert.equal(new BoundedLoadRing().factor, 1.25)
    assert.throws(() => new BoundedLoadRing().acquire('k'), /BoundedLoadRing has no nodes/)
  })
})
