import { withFallbacks } from '../../core/fallbacks.js'
import { startProgress } from '../progress.js'
import { bytes, emit, percent, table } from '../output.js'
import { type GlobalOptions, intOption, scanAll, withStore } from '../store.js'

export interface StatsOptions {
  top: string
}

/** Upper bounds of the size histogram, in bytes (the last bucket is "over 64 KiB", the default maxSize). */
const SIZE_BOUNDS = [256, 1024, 4096, 16384, 65536]

/** What `stats --json` prints. */
export interface Stats {
  /** The store's own count of live sessions (before the scan). */
  live: number
  /** Sessions the scan saw (differs from `live` when sessions come and go meanwhile). */
  scanned: number
  anonymous: number
  principals: { distinct: number; top: Array<{ principal: string; sessions: number }> }
  /** Bytes of attribute names and stored values per session, as `maxSize` counts them. */
  size: {
    buckets: Array<{ le: number | null; sessions: number }>
    min: number
    median: number
    p95: number
    max: number
    total: number
  }
  expiring: { within5m: number; within1h: number }
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0

/**
 * `sessionmesh stats`: one scan of every live session.
 *
 * @example
 * // sessionmesh stats --top 5 --json
 * await stats({ top: '5' }, global)
 */
export async function stats(options: StatsOptions, global: GlobalOptions): Promise<void> {
  const top = intOption(options.top, '--top')
  await withStore(global, async ({ store }) => {
    const now = Date.now()
    const live = await withFallbacks(store).count(now)
    const progress = startProgress('scanning', live, { enabled: global.json !== true && global.progress })
    const perPrincipal = new Map<string, number>()
    const sizes: number[] = []
    const buckets = new Array<number>(SIZE_BOUNDS.length + 1).fill(0)
    let anonymous = 0
    let within5m = 0
    let within1h = 0
    try {
      for await (const page of scanAll(store, now, progress)) {
        for (const s of page) {
          if (s.principal === null) anonymous++
          else perPrincipal.set(s.principal, (perPrincipal.get(s.principal) ?? 0) + 1)
          let size = 0
          for (const [name, value] of s.attributes) size += Buffer.byteLength(name) + Buffer.byteLength(value)
          sizes.push(size)
          const b = SIZE_BOUNDS.findIndex((bound) => size <= bound)
          buckets[b === -1 ? SIZE_BOUNDS.length : b]! += 1
          if (s.expiresAt - now <= 5 * 60_000) within5m++
          if (s.expiresAt - now <= 3600_000) within1h++
        }
      }
    } finally {
      progress.stop()
    }
    sizes.sort((a, b) => a - b)
    const result: Stats = {
      live,
      scanned: sizes.length,
      anonymous,
      principals: {
        distinct: perPrincipal.size,
        top: [...perPrincipal]
          .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
          .slice(0, top)
          .map(([principal, sessions]) => ({ principal, sessions })),
      },
      size: {
        buckets: buckets.map((sessions, i) => ({ le: SIZE_BOUNDS[i] ?? null, sessions })),
        min: sizes[0] ?? 0,
        median: quantile(sizes, 0.5),
        p95: quantile(sizes, 0.95),
        max: sizes[sizes.length - 1] ?? 0,
        total: sizes.reduce((a, n) => a + n, 0),
      },
      expiring: { within5m, within1h },
    }
    emit(global.json === true, result, () => {
      const n = Math.max(result.scanned, 1)
      return [
        `live sessions    ${live} (scanned ${result.scanned}; ${anonymous} anonymous, ${perPrincipal.size} principals)`,
        `expiring         ${within5m} within 5 min, ${within1h} within 1 h`,
        `attribute size   min ${bytes(result.size.min)}, median ${bytes(result.size.median)}, p95 ${bytes(result.size.p95)}, max ${bytes(result.size.max)}, total ${bytes(result.size.total)}`,
        ...table(
          ['SIZE', 'SESSIONS', 'SHARE'],
          result.size.buckets.map((b) => [
            b.le === null ? `> ${bytes(SIZE_BOUNDS[SIZE_BOUNDS.length - 1] ?? 0)}` : `<= ${bytes(b.le)}`,
            String(b.sessions),
            percent(b.sessions / n),
          ]),
        ).map((l) => `  ${l}`),
        ...(result.principals.top.length > 0
          ? ['top principals', ...table(['PRINCIPAL', 'SESSIONS'], result.principals.top.map((p) => [p.principal, String(p.sessions)])).map((l) => `  ${l}`)]
          : []),
      ]
    })
  })
}
