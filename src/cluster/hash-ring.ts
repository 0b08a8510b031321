import { ConfigurationError } from '../core/errors.js'
import { murmur3 } from './hash.js'

/**
 * Points each node of weight 1 gets on the ring. 1000 keeps 10 nodes within about 5% of an
 * even split, and a join within a few percent of the ideal 1/(n+1) movement (figures and the
 * trade-off: docs/RING.md).
 */
export const DEFAULT_VNODES = 1000

/** Node indices are stored as Uint16. */
const MAX_NODES = 0x10000
/** Points one node may have (vnodes x weight): 4 MiB of ring per node at most. */
const MAX_POINTS_PER_NODE = 1 << 20

/** A node given at construction: an id, or an id with a weight (default 1). */
export type NodeSpec = string | { id: string; weight?: number }

export interface NodeOptions {
  /** Relative capacity (default 1): a node of weight 2 owns about twice the keys of one of weight 1. */
  weight?: number
}

/**
 * What `HashRing`, `BoundedLoadRing` and `RendezvousHash` share: maps any string key to one
 * of a set of node ids, such that adding or removing a node moves only the keys that go to,
 * or came from, that node. Every instance given the same nodes, weights and options (in any
 * order) gives the same answers.
 */
export interface Ring {
  /** Node ids, in the order they were added. */
  readonly nodes: readonly string[]
  readonly size: number
  has(node: string): boolean
  weightOf(node: string): number | undefined
  /** Adds a node; a ConfigurationError if the id is taken or the weight is not a positive number. */
  add(node: string, options?: NodeOptions): this
  /** Removes a node; false if there was none of that id. */
  remove(node: string): boolean
  /** Changes a node's weight, moving only the keys that go to or come from that node. */
  setWeight(node: string, weight: number): this
  /** The node that owns `key`; a ConfigurationError on an empty ring. Allocates nothing. */
  owner(key: string): string
  /**
   * Up to `n` distinct nodes for `key`, in preference order: `owner(key)` first, then the node
   * that would own it if the first left, and so on. Fewer than `n` when the ring has fewer
   * nodes; none on an empty ring. Pass `out` to reuse an array (it is cleared first).
   */
  owners(key: string, n: number, out?: string[]): string[]
  /** An independent copy: keep one before a change and compare owners to see which keys move. */
  clone(): Ring
}

export interface HashRingOptions {
  /** Points per unit of weight (default `DEFAULT_VNODES`, 1000). Every instance must use the same value. */
  vnodes?: number
  /** Hash seed (an unsigned 32-bit integer, default 0). Every instance must use the same value. */
  seed?: number
  nodes?: Iterable<NodeSpec>
}

/**
 * Consistent hashing on a ring of virtual nodes. Each node of weight `w` gets
 * `round(vnodes x w)` points, at `murmur3(`${id}#${i}`, seed)`; a key belongs to the node of
 * the first point at or after `murmur3(key, seed)`, wrapping around. Points live in two
 * sorted typed arrays (positions and node indices) with a bucket index over them, so a
 * lookup is one hash, one index read and a step or two, and allocates nothing; `add` and
 * `remove` merge one node's points in or out (O(points)) without rehashing the others. Equal positions are ordered by node id, so the
 * ring depends only on its set of nodes and weights, never on the order they arrived in.
 *
 * @example
 * const ring = new HashRing({ nodes: ['redis-a', 'redis-b', { id: 'redis-c', weight: 2 }] })
 * ring.owner(sessionId)          // e.g. 'redis-c'
 * ring.owners(sessionId, 2)      // e.g. ['redis-c', 'redis-a']: owner, then fallback
 * const before = ring.clone()
 * ring.add('redis-d')            // keys with before.owner(k) !== ring.owner(k) now go to redis-d
 */
export class HashRing implements Ring {
  readonly vnodes: number
  readonly seed: number
  /** Point positions, ascending; ties ordered by node id. Replaced, never written in place, so clones share them. */
  #points: Uint32Array = new Uint32Array(0)
  /** The node index (slot) of each point. */
  #slots: Uint16Array = new Uint16Array(0)
  /**
   * Where to start searching: `#buckets[b]` is the first point at or above `b << #shift`, so a
   * lookup reads its bucket and steps over the one or two points in it instead of a binary
   * search over all of them (which is most of a lookup's time at 10 nodes x 1000 points).
   */
  #buckets: Uint32Array = new Uint32Array(3)
  #shift = 31 // an empty ring: 2 buckets
  /** By slot: id (undefined for a free slot), weight and number of points. */
  #ids: (string | undefined)[] = []
  #weights: number[] = []
  #counts: number[] = []
  #free: number[] = []
  /** id -> slot, in insertion order. */
  #index = new Map<string, number>()
  #totalWeight = 0
  #nodes: readonly string[] | undefined
  /** owners(): slot -> the call that last took it, so no per-call set is needed. */
  #seen = new Uint32Array(0)
  #epoch = 0

  constructor(options: HashRingOptions = {}) {
    this.vnodes = options.vnodes ?? DEFAULT_VNODES
    if (!Number.isInteger(this.vnodes) || this.vnodes < 1 || this.vnodes > MAX_POINTS_PER_NODE) {
      throw new ConfigurationError(`vnodes must be an integer from 1 to ${MAX_POINTS_PER_NODE}, not ${show(options.vnodes)}`)
    }
    this.seed = checkSeed(options.seed)
    if (options.nodes) this.#addAll(parseNodes(options.nodes))
  }

  get nodes(): readonly string[] {
    return (this.#nodes ??= Object.freeze([...this.#index.keys()]))
  }

  get size(): number {
    return this.#index.size
  }

  /** Points on the ring, over all nodes. */
  get points(): number {
    return this.#points.length
  }

  has(node: string): boolean {
    return this.#index.has(node)
  }

  weightOf(node: string): number | undefined {
    const slot = this.#index.get(node)
    return slot === undefined ? undefined : this.#weights[slot]
  }

  add(node: string, options: NodeOptions = {}): this {
    checkNodeId(node)
    if (this.#index.has(node)) throw new ConfigurationError(`node "${node}" is already on the ring`)
    const weight = checkWeight(options.weight ?? 1, node)
    const count = this.#pointCount(weight, node)
    if (this.#free.length === 0 && this.#ids.length >= MAX_NODES) {
      throw new ConfigurationError(`a ring holds at most ${MAX_NODES} nodes`)
    }
    const slot = this.#free.pop() ?? this.#ids.length
    this.#ids[slot] = node
    this.#weights[slot] = weight
    this.#counts[slot] = count
    this.#index.set(node, slot)
    this.#totalWeight += weight
    this.#nodes = undefined
    this.#merge(slot, this.#pointsOf(node, 0, count))
    return this
  }

  remove(node: string): boolean {
    const slot = this.#index.get(node)
    if (slot === undefined) return false
    this.#drop(slot, this.#counts[slot] as number, null)
    this.#index.delete(node)
    this.#totalWeight -= this.#weights[slot] as number
    if (this.#index.size === 0) this.#totalWeight = 0 // no float residue on an empty ring
    this.#ids[slot] = undefined
    this.#free.push(slot)
    this.#nodes = undefined
    return true
  }

  setWeight(node: string, weight: number): this {
    const slot = this.#index.get(node)
    if (slot === undefined) throw new ConfigurationError(`node "${node}" is not on the ring`)
    checkWeight(weight, node)
    const before = this.#counts[slot] as number
    const after = this.#pointCount(weight, node)
    // Point i of a node is the same whatever its weight: a heavier node adds points at the
    // end of its sequence and a lighter one drops them from the end.
    if (after > before) this.#merge(slot, this.#pointsOf(node, before, after))
    else if (after < before) this.#drop(slot, before - after, this.#pointsOf(node, after, before))
    this.#totalWeight += weight - (this.#weights[slot] as number)
    this.#weights[slot] = weight
    this.#counts[slot] = after
    return this
  }

  owner(key: string): string {
    if (this.#points.length === 0) throw emptyRing(this.constructor.name)
    return this.#ids[this.#slots[this.#successor(murmur3(key, this.seed))] as number] as string
  }

  owners(key: string, n: number, out: string[] = []): string[] {
    checkCount(n)
    const total = this.#points.length
    const want = Math.min(n, this.#index.size)
    let found = 0
    if (want > 0) {
      const epoch = this.#nextEpoch()
      const seen = this.#seen
      const slots = this.#slots
      for (let i = this.#successor(murmur3(key, this.seed)); found < want; i++) {
        if (i === total) i = 0
        const slot = slots[i] as number
        if (seen[slot] !== epoch) {
          seen[slot] = epoch
          out[found++] = this.#ids[slot] as string
        }
      }
    }
    // Written by index and trimmed, not cleared and pushed: clearing drops the array's
    // storage, and pushing would allocate it again on every call.
    if (out.length !== found) out.length = found
    return out
  }

  clone(): HashRing {
    const copy = this.emptyCopy()
    copy.#points = this.#points
    copy.#slots = this.#slots
    copy.#buckets = this.#buckets
    copy.#shift = this.#shift
    copy.#ids = this.#ids.slice()
    copy.#weights = this.#weights.slice()
    copy.#counts = this.#counts.slice()
    copy.#free = this.#free.slice()
    copy.#index = new Map(this.#index)
    copy.#totalWeight = this.#totalWeight
    copy.#seen = new Uint32Array(this.#ids.length)
    return copy
  }

  /** A ring with this one's options and no nodes, which `clone` fills: subclasses return their own kind. */
  protected emptyCopy(): HashRing {
    return new HashRing({ vnodes: this.vnodes, seed: this.seed })
  }

  /** Sum of the weights of the nodes on the ring. */
  protected get totalWeight(): number {
    return this.#totalWeight
  }

  /** A node's index (stable while it is on the ring, reused after it leaves), or -1. */
  protected slotOf(node: string): number {
    return this.#index.get(node) ?? -1
  }

  /** One past the highest index a node may have now. */
  protected get slotLimit(): number {
    return this.#ids.length
  }

  protected nodeAt(slot: number): string {
    return this.#ids[slot] as string
  }

  protected weightAt(slot: number): number {
    return this.#weights[slot] as number
  }

  /**
   * Walks the ring clockwise from `key`'s position and returns the index of the first node
   * `accept` takes (each point asks once), or -1 if it takes none. Throws on an empty ring.
   */
  protected firstAccepted(key: string, accept: (slot: number) => boolean): number {
    const total = this.#points.length
    if (total === 0) throw emptyRing(this.constructor.name)
    const slots = this.#slots
    let i = this.#successor(murmur3(key, this.seed))
    for (let step = 0; step < total; step++, i++) {
      if (i === total) i = 0
      const slot = slots[i] as number
      if (accept(slot)) return slot
    }
    return -1
  }

  /** Index of the first point at or after `hash`, wrapping to 0 past the last. */
  #successor(hash: number): number {
    const points = this.#points
    const bucket = hash >>> this.#shift
    const end = this.#buckets[bucket + 1] as number
    let i = this.#buckets[bucket] as number
    // Every point of later buckets is above `hash`, so the search stops at `end` at the latest.
    while (i < end && (points[i] as number) < hash) i++
    return i === points.length ? 0 : i
  }

  /** Puts a new set of points in place, with its bucket index. */
  #install(points: Uint32Array, slots: Uint16Array): void {
    // 2^bits between half the point count and all of it: one or two points per bucket.
    const bits = Math.min(24, Math.max(1, Math.ceil(Math.log2(points.length + 1)) - 1))
    const shift = 32 - bits
    const buckets = new Uint32Array((1 << bits) + 1)
    let i = 0
    for (let b = 0; b < 1 << bits; b++) {
      const start = b * 2 ** shift
      while (i < points.length && (points[i] as number) < start) i++
      buckets[b] = i
    }
    buckets[1 << bits] = points.length
    this.#points = points
    this.#slots = slots
    this.#buckets = buckets
    this.#shift = shift
  }

  #nextEpoch(): number {
    if (this.#seen.length < this.#ids.length) {
      const grown = new Uint32Array(Math.max(this.#ids.length, this.#seen.length * 2))
      grown.set(this.#seen)
      this.#seen = grown
    }
    if (this.#epoch === 0xffffffff) {
      this.#seen.fill(0)
      this.#epoch = 0
    }
    return ++this.#epoch
  }

  #pointCount(weight: number, node: string): number {
    const count = Math.max(1, Math.round(this.vnodes * weight))
    if (count > MAX_POINTS_PER_NODE) {
      throw new ConfigurationError(`node "${node}": weight ${weight} x ${this.vnodes} vnodes is over ${MAX_POINTS_PER_NODE} points`)
    }
    return count
  }

  /** Positions of a node's points `from` to `to - 1`, ascending. */
  #pointsOf(node: string, from: number, to: number): Uint32Array {
    const points = new Uint32Array(to - from)
    for (let i = from; i < to; i++) points[i - from] = murmur3(`${node}#${i}`, this.seed)
    return points.sort()
  }

  /** Merges `added` (ascending) into the ring as points of `slot`. */
  #merge(slot: number, added: Uint32Array): void {
    const id = this.#ids[slot] as string
    const ids = this.#ids
    const oldPoints = this.#points
    const oldSlots = this.#slots
    const n = oldPoints.length
    const m = added.length
    const points = new Uint32Array(n + m)
    const slots = new Uint16Array(n + m)
    let i = 0
    let j = 0
    let k = 0
    while (i < n && j < m) {
      const p = oldPoints[i] as number
      const q = added[j] as number
      if (p < q || (p === q && (ids[oldSlots[i] as number] as string) < id)) {
        points[k] = p
        slots[k++] = oldSlots[i++] as number
      } else {
        points[k] = q
        slots[k++] = slot
        j++
      }
    }
    points.set(oldPoints.subarray(i), k)
    slots.set(oldSlots.subarray(i), k)
    for (; j < m; j++, k++) {
      points[k] = added[j] as number
      slots[k] = slot
    }
    this.#install(points, slots)
  }

  /** Removes `count` points of `slot`: all of them (`victims` null), or those at `victims` (ascending). */
  #drop(slot: number, count: number, victims: Uint32Array | null): void {
    const oldPoints = this.#points
    const oldSlots = this.#slots
    const points = new Uint32Array(oldPoints.length - count)
    const slots = new Uint16Array(oldPoints.length - count)
    let j = 0
    let k = 0
    for (let i = 0; i < oldPoints.length; i++) {
      const s = oldSlots[i] as number
      const p = oldPoints[i] as number
      if (s === slot && (victims === null || (j < victims.length && victims[j] === p))) {
        j++
        continue
      }
      points[k] = p
      slots[k++] = s
    }
    this.#install(points, slots)
  }

  /** Construction: every node at once, one sort instead of a merge per node. */
  #addAll(specs: readonly { id: string; weight: number }[]): void {
    if (specs.length > MAX_NODES) throw new ConfigurationError(`a ring holds at most ${MAX_NODES} nodes`)
    // Slots in id order, so sorting (position, slot) orders equal positions by id.
    const byId = specs.map((s) => s.id).sort()
    const slotOf = new Map(byId.map((id, slot) => [id, slot]))
    const counts = specs.map((s) => this.#pointCount(s.weight, s.id))
    const keys = new Float64Array(counts.reduce((a, b) => a + b, 0))
    let k = 0
    specs.forEach(({ id, weight }, n) => {
      const slot = slotOf.get(id) as number
      this.#ids[slot] = id
      this.#weights[slot] = weight
      this.#counts[slot] = counts[n] as number
      this.#index.set(id, slot)
      this.#totalWeight += weight
      for (let i = 0; i < (counts[n] as number); i++) keys[k++] = murmur3(`${id}#${i}`, this.seed) * MAX_NODES + slot
    })
    keys.sort()
    const points = new Uint32Array(keys.length)
    const slots = new Uint16Array(keys.length)
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as number
      const slot = key % MAX_NODES
      points[i] = (key - slot) / MAX_NODES
      slots[i] = slot
    }
    this.#install(points, slots)
  }
}

// Shared by the ring variants; not exported from the package.

export function checkNodeId(node: unknown): asserts node is string {
  if (typeof node !== 'string' || node.length === 0) {
    throw new ConfigurationError(`a node id must be a non-empty string, not ${typeof node === 'string' ? '""' : typeof node}`)
  }
}

export function checkWeight(weight: unknown, node: string): number {
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
    throw new ConfigurationError(`node "${node}": weight must be a finite number above 0, not ${show(weight)}`)
  }
  return weight
}

export function checkSeed(seed: unknown): number {
  if (seed === undefined) return 0
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new ConfigurationError(`seed must be an integer from 0 to 2^32 - 1, not ${show(seed)}`)
  }
  return seed
}

export function checkCount(n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`owners(key, n): n must be an integer >= 0, not ${show(n)}`)
}

/** Validated `{ id, weight }` for each spec; a ConfigurationError on a duplicate id. */
export function parseNodes(nodes: Iterable<NodeSpec>): { id: string; weight: number }[] {
  const seen = new Set<string>()
  const specs: { id: string; weight: number }[] = []
  for (const spec of nodes) {
    const id = typeof spec === 'string' ? spec : (spec as { id?: unknown } | null)?.id
    checkNodeId(id)
    if (seen.has(id)) throw new ConfigurationError(`node "${id}" is listed twice`)
    seen.add(id)
    specs.push({ id, weight: checkWeight(typeof spec === 'string' ? 1 : (spec.weight ?? 1), id) })
  }
  return specs
}

/** A bad option's value for an error message. */
export function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : typeof value === 'object' && value !== null ? typeof value : String(value)
}

export function emptyRing(kind: string): ConfigurationError {
  return new ConfigurationError(`${kind} has no nodes: add one before asking for an owner`)
}
