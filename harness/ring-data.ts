/** Seeded keys and nodes for ring measurements: the ring tests and `npm run bench -- ring` use the same. */

/** mulberry32: a small seeded generator of unsigned 32-bit integers, so every run sees the same keys and nodes. */
export function prng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) | 0
    let t = Math.imul(s ^ (s >>> 15), 1 | s)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return (t ^ (t >>> 14)) >>> 0
  }
}

/** Session ids as src/core/ids.ts makes them (24 random bytes, base64url), from a seeded generator. */
export function sessionIds(random: () => number, count: number): string[] {
  const words = new Uint32Array(count * 6)
  for (let i = 0; i < words.length; i++) words[i] = random()
  // 24 bytes are exactly 32 base64url characters, so one encoding cuts into ids.
  const text = Buffer.from(words.buffer).toString('base64url')
  return Array.from({ length: count }, (_, i) => text.slice(i * 32, i * 32 + 32))
}

/** Distinct node ids shaped like host:port addresses. */
export function nodeIds(random: () => number, count: number): string[] {
  const ids = new Set<string>()
  while (ids.size < count) {
    const r = random()
    ids.add(`10.${(r >>> 24) & 255}.${(r >>> 16) & 255}.${(r >>> 8) & 255}:${6379 + (r & 7)}`)
  }
  return [...ids]
}
