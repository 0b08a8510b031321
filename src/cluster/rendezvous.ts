import { ConfigurationError } from '../core/errors.js'
import { mix32, murmur3 } from './hash.js'
import { checkCount, checkNodeId, checkSeed, checkWeight, emptyRing, parseNodes, type NodeOptions, type NodeSpec, type Ring } from './hash-ring.js'

export interface RendezvousHashOptions {
  /** Hash seed (an unsigned 32-bit integer, default 0). Every instance must use the same value. */
  seed?: number
  nodes?: Iterable<NodeSpec>
}

/**
 * Rendezvous (highest-random-weight) hashing: every node scores the key and the highest
 * score owns it. The score is `fmix32(murmur3(key) ^ murmur3(node))`, so the key is hashed
 * once and each node costs a few multiplications: O(nodes) per lookup, no allocation, and no
 * points to store. Weighted nodes score `-weight / ln(u)` (u the score scaled into (0, 1)),
 * which gives each node a share proportional to its weight; with equal weights that orders
 * nodes exactly as the raw score does. Ties go to the smaller node id. Same interface as
 * `HashRing`; trade-offs in docs/RING.md.
 */
export class RendezvousHash implements Ring {
  readonly seed: number
  /** Sorted by id; replaced (never written in place) on change, so clones share them. */
  #ids: readonly string[] = []
  #hashes = new Int32Array(0)
  #weights = new Float64Array(0)
  /** All weights equal: compare raw scores, no logarithms. */
  #uniform = true
  /** Insertion order, and each node's weight. */
  #index = new Map<string, number>()
  #nodes: readonly string[] | undefined
  /** owners(): scores of the call in progress. */
  #scores = new Float64Array(0)

  constructor(options: RendezvousHashOptions = {}) {
    this.seed = checkSeed(options.seed)
    if (options.nodes) {
      for (const { id, weight } of parseNodes(options.nodes)) this.#index.set(id, weight)
      this.#rebuild()
    }
  }

  get nodes(): readonly string[] {
    return (this.#nodes ??= Object.freeze([...this.#index.keys()]))
  }

  get size(): number {
    return this.#index.size
  }

  has(node: string): boolean {
    return this.#index.has(node)
  }

  weightOf(node: string): number | undefined {
    return this.#index.get(node)
  }

  add(node: string, options: NodeOptions = {}): this {
    checkNodeId(node)
    if (this.#index.has(node)) throw new ConfigurationError(`node "${node}" is already in the set`)
    this.#index.set(node, checkWeight(options.weight ?? 1, node))
    this.#rebuild()
    return this
  }

  remove(node: string): boolean {
    if (!this.#index.delete(node)) return false
    this.#rebuild()
    return true
  }

  setWeight(node: string, weight: number): this {
    if (!this.#index.has(node)) throw new ConfigurationError(`node "${node}" is not in the set`)
    this.#index.set(node, checkWeight(weight, node))
    this.#rebuild()
    return this
  }

  owner(key: string): string {
    const hashes = this.#hashes
    const n = hashes.length
    if (n === 0) throw emptyRing('RendezvousHash')
    const h = murmur3(key, this.seed)
    const best = this.#uniform ? highest(h, hashes) : highestWeighted(h, hashes, this.#weights)
    return this.#ids[best] as string
  }

  /** The `n` highest scores, best first: O(nodes x n). */
  owners(key: string, n: number, out: string[] = []): string[] {
    checkCount(n)
    const count = this.#hashes.length
    const want = Math.min(n, count)
    if (want > 0) {
      const h = murmur3(key, this.seed)
      const scores = this.#scores
      for (let i = 0; i < count; i++) {
        const s = score(h, this.#hashes[i] as number)
        scores[i] = this.#uniform ? s : weighted(s, this.#weights[i] as number)
      }
      for (let found = 0; found < want; found++) {
        let best = 0
        for (let i = 1; i < count; i++) if ((scores[i] as number) > (scores[best] as number)) best = i
        scores[best] = -Infinity
        out[found] = this.#ids[best] as string
      }
    }
    // By index and trimmed (not cleared and pushed), so a reused `out` is not reallocated.
    if (out.length !== want) out.length = want
    return out
  }

  clone(): RendezvousHash {
    const copy = new RendezvousHash({ seed: this.seed })
    copy.#ids = this.#ids
    copy.#hashes = this.#hashes
    copy.#weights = this.#weights
    copy.#uniform = this.#uniform
    copy.#index = new Map(this.#index)
    copy.#scores = new Float64Array(this.#scores.length)
    return copy
  }

  /** Node arrays in id order, from `#index`: O(n log n) per change, which is rare. */
  #rebuild(): void {
    const ids = [...this.#index.keys()].sort()
    this.#ids = ids
    this.#hashes = Int32Array.from(ids, (id) => murmur3(id, this.seed))
    this.#weights = Float64Array.from(ids, (id) => this.#index.get(id) as number)
    this.#uniform = this.#weights.every((w) => w === this.#weights[0])
    this.#scores = new Float64Array(ids.length)
    this.#nodes = undefined
  }
}

/** Index of the highest score (the first of equals). */
function highest(h: number, hashes: Int32Array): number {
  let best = 0
  let top = score(h, hashes[0] as number)
  for (let i = 1; i < hashes.length; i++) {
    const s = score(h, hashes[i] as number)
    if (s > top) {
      top = s
      best = i
    }
  }
  return best
}

/** Index of the highest weighted score (the first of equals). */
function highestWeighted(h: number, hashes: Int32Array, weights: Float64Array): number {
  let best = 0
  let top = weighted(score(h, hashes[0] as number), weights[0] as number)
  for (let i = 1; i < hashes.length; i++) {
    const s = weighted(score(h, hashes[i] as number), weights[i] as number)
    if (s > top) {
      top = s
      best = i
    }
  }
  return best
}

/**
 * A node's score for a key: `fmix32(keyHash ^ nodeHash)` with the top bit flipped, so that
 * comparing these signed 32-bit integers orders them as the unsigned scores (see `mix32`).
 */
function score(keyHash: number, nodeHash: number): number {
  return mix32(keyHash ^ nodeHash) ^ -0x80000000
}

/**
 * Weighted score for a raw 32-bit score: `-weight / ln(u)` with u in (0, 1). Its inverse,
 * `-ln(u) / weight`, is exponential with rate `weight`, and the smallest of independent
 * exponentials is node i's with probability weight_i / total weight.
 */
function weighted(score: number, weight: number): number {
  return -weight / Math.log((score + 2147483648.5) / 4294967296)
}
