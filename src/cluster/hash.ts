/**
 * The hash behind the rings: MurmurHash3 (x86, 32-bit), read straight from a string's
 * UTF-16 code units, two to a 32-bit block, so hashing allocates nothing. The result is
 * exactly `MurmurHash3_x86_32(Buffer.from(key, 'utf16le'), seed)`, which another language
 * can reproduce (a gateway that routes by session id, for instance). Why this hash:
 * docs/RING.md.
 */

/** MurmurHash3_x86_32 of `key`'s UTF-16LE bytes: an unsigned 32-bit integer. */
export function murmur3(key: string, seed = 0): number {
  const length = key.length
  const pairs = length & ~1
  let h = seed | 0
  let i = 0
  for (; i < pairs; i += 2) {
    let k = key.charCodeAt(i) | (key.charCodeAt(i + 1) << 16)
    k = Math.imul(k, 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    h ^= Math.imul(k, 0x1b873593)
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  if (i < length) {
    let k = Math.imul(key.charCodeAt(i), 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    h ^= Math.imul(k, 0x1b873593)
  }
  return fmix32(h ^ (length << 1))
}

/** MurmurHash3's finalizer: a bijection on 32 bits in which every input bit flips every output bit about half the time. */
export function fmix32(h: number): number {
  return mix32(h) >>> 0
}

/**
 * `fmix32` as a signed 32-bit integer. Hot loops compare these: V8 keeps int32s in integer
 * registers, while unsigned values above 2^31 are doubles and made a rendezvous lookup twice
 * as slow.
 */
export function mix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return h ^ (h >>> 16)
}
