import { ConfigurationError } from '../core/errors.js'
import { HashRing, show, type HashRingOptions, type NodeOptions } from './hash-ring.js'

export const DEFAULT_LOAD_FACTOR = 1.25

export interface BoundedLoadRingOptions extends HashRingOptions {
  /**
   * `c` in Mirrokni, Thorup and Zadimoghaddam's consistent hashing with bounded loads: no
   * `acquire` takes a node to more than `ceil(c x average)` (weighted by the node's share of
   * the total weight). At least 1; default 1.25.
   */
  factor?: number
}

/**
 * A `HashRing` that also counts load per node, for placing work that comes and goes (requests
 * in flight, live connections, sessions pinned to an instance). `acquire(key)` walks the ring
 * clockwise from the key and takes the first node below its capacity,
 * `ceil(factor x (totalLoad + 1) x weight / totalWeight)`, then counts one unit on it;
 * `release(node)` gives the unit back. While nodes have room, `acquire(key)` is
 * `owner(key)`; a hot key range spills over to the next nodes along the ring instead of
 * piling onto one. `owner` and `owners` stay the plain consistent-hash answers.
 *
 * Loads are local to this instance; nothing is moved when loads or nodes change, so a node
 * can sit above the current bound after releases elsewhere until its own load drains.
 *
 * @example
 * const ring = new BoundedLoadRing({ nodes: ['app-1', 'app-2', 'app-3'], factor: 1.25 })
 * const node = ring.acquire(sessionId)   // route the request
 * try { await forward(node, req) } finally { ring.release(node) }
 */
export class BoundedLoadRing extends HashRing {
  readonly factor: number
  /** By node index. */
  #loads: number[] = []
  #total = 0
  /** Capacity per unit of weight for the acquire in progress. */
  #scale = 0
  /** `load < ceil(x)` is `load < x` for an integer load: no Math.ceil, whose double result cost an allocation per lookup. */
  readonly #hasRoom = (slot: number): boolean =>
    (this.#loads[slot] as number) < this.#scale * this.weightAt(slot) - EPSILON

  constructor(options: BoundedLoadRingOptions = {}) {
    super(options)
    this.factor = options.factor ?? DEFAULT_LOAD_FACTOR
    if (typeof this.factor !== 'number' || !Number.isFinite(this.factor) || this.factor < 1) {
      throw new ConfigurationError(`factor must be a finite number >= 1, not ${show(options.factor)}`)
    }
    this.#loads = new Array<number>(this.slotLimit).fill(0)
  }

  /** Units acquired and not yet released, over all nodes. */
  get totalLoad(): number {
    return this.#total
  }

  /** Units acquired on `node` and not yet released (0 for a node not on the ring). */
  loadOf(node: string): number {
    const slot = this.slotOf(node)
    return slot === -1 ? 0 : (this.#loads[slot] as number)
  }

  /** The load `node` may reach through the next `acquire`; undefined for a node not on the ring. */
  capacityOf(node: string): number | undefined {
    const slot = this.slotOf(node)
    if (slot === -1) return undefined
    return capacity((this.factor * (this.#total + 1)) / this.totalWeight, this.weightAt(slot))
  }

  /** The node to place `key` on (see the class), counting one unit of load on it. Throws on an empty ring. */
  acquire(key: string): string {
    this.#scale = (this.factor * (this.#total + 1)) / this.totalWeight
    // With factor >= 1 the capacities add up to more than the load, so some node has room.
    const slot = this.firstAccepted(key, this.#hasRoom)
    if (slot === -1) throw new Error('BoundedLoadRing: no node below capacity (a bug: please report it)')
    this.#loads[slot] = (this.#loads[slot] as number) + 1
    this.#total++
    return this.nodeAt(slot)
  }

  /** Gives back one unit acquired on `node`; false if it is no longer on the ring or holds none. */
  release(node: string): boolean {
    const slot = this.slotOf(node)
    if (slot === -1 || this.#loads[slot] === 0) return false
    this.#loads[slot] = (this.#loads[slot] as number) - 1
    this.#total--
    return true
  }

  override add(node: string, options?: NodeOptions): this {
    super.add(node, options)
    this.#loads[this.slotOf(node)] = 0
    return this
  }

  /** Removes the node and forgets its load (whatever it held is the caller's to re-place). */
  override remove(node: string): boolean {
    const slot = this.slotOf(node)
    if (slot === -1) return false
    this.#total -= this.#loads[slot] as number
    this.#loads[slot] = 0
    return super.remove(node)
  }

  /** A copy with the same nodes and the same loads. */
  override clone(): BoundedLoadRing {
    const copy = super.clone() as BoundedLoadRing
    copy.#loads = this.#loads.slice()
    copy.#total = this.#total
    return copy
  }

  protected override emptyCopy(): BoundedLoadRing {
    return new BoundedLoadRing({ vnodes: this.vnodes, seed: this.seed, factor: this.factor })
  }
}

/** Float error forgiven just above an integer: 1.25 x 8 / 10 is a capacity of 1, not 2. */
const EPSILON = 1e-9

/** `ceil(scale x weight)`, forgiving float error. */
function capacity(scale: number, weight: number): number {
  return Math.ceil(scale * weight - EPSILON)
}
