/**
 * The last `capacity` event ids seen, for dropping a redelivered event: a Set for lookups
 * and a ring for forgetting the oldest, so memory stays bounded however long a process runs.
 */
export class RecentIds {
  readonly #ring: Array<string | undefined>
  readonly #set = new Set<string>()
  #next = 0

  constructor(readonly capacity = 10_000) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('dedupe window must be a whole number >= 1')
    this.#ring = new Array<string | undefined>(capacity)
  }

  has(id: string): boolean {
    return this.#set.has(id)
  }

  /** Remembers `id`; false if it was already remembered. */
  add(id: string): boolean {
    if (this.#set.has(id)) return false
    const old = this.#ring[this.#next]
    if (old !== undefined) this.#set.delete(old)
    this.#ring[this.#next] = id
    this.#set.add(id)
    this.#next = (this.#next + 1) % this.capacity
    return true
  }
}
