import { withFallbacks } from '../../core/fallbacks.js'
import { HashRing } from '../../cluster/hash-ring.js'
import { ConfigurationError } from '../../core/errors.js'
import { newSessionId } from '../../core/ids.js'
import { CliUsageError } from '../errors.js'
import { emit, percent, table } from '../output.js'
import { startProgress } from '../progress.js'
import { type GlobalOptions, intOption, scanAll, storeSpec, withStore } from '../store.js'

export interface RingOptions {
  nodes: string
  vnodes?: string
  sample?: string
  seed?: string
}

/** What `ring --json` prints. */
export interface RingReport {
  /** `sample`: random ids; `store`: the ids of the live sessions. */
  source: 'sample' | 'store'
  keys: number
  vnodes: number
  nodes: Array<{ id: string; weight: number; keys: number; share: number; expectedShare: number }>
  /** The most loaded node over the mean, per unit of weight: 1 is a perfect split. */
  maxOverMean: number
}

const DEFAULT_SAMPLE = 100_000

/**
 * `a,b,c:2` as node specs. The weight is what follows the last `:` when that is a number, so
 * a node id that contains a colon (`10.0.0.1:6379`) needs an explicit weight (`10.0.0.1:6379:1`).
 */
export function parseNodes(text: string): Array<{ id: string; weight: number }> {
  const specs = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0)
  if (specs.length === 0) throw new CliUsageError('--nodes: give node ids, comma-separated (a,b,c or a:2,b:1)')
  return specs.map((spec) => {
    const colon = spec.lastIndexOf(':')
    const suffix = colon === -1 ? '' : spec.slice(colon + 1)
    if (colon > 0 && /^\d+(\.\d+)?$/.test(suffix)) return { id: spec.slice(0, colon), weight: Number(suffix) }
    return { id: spec, weight: 1 }
  })
}

/**
 * `sessionmesh ring`: how a HashRing of these nodes would split the keys: `--sample N`
 * random session ids, or, with a store selected and no `--sample`, the live sessions' ids.
 *
 * @example
 * // sessionmesh ring --nodes redis-a,redis-b,redis-c:2 --sample 50000 --json
 * await ring({ nodes: 'redis-a,redis-b,redis-c:2', sample: '50000' }, global)
 */
export async function ring(options: RingOptions, global: GlobalOptions): Promise<void> {
  const specs = parseNodes(options.nodes)
  const vnodes = options.vnodes !== undefined ? intOption(options.vnodes, '--vnodes', 1) : undefined
  const seed = options.seed !== undefined ? intOption(options.seed, '--seed') : undefined
  let hashRing: HashRing
  try {
    hashRing = new HashRing({ nodes: specs, ...(vnodes !== undefined ? { vnodes } : {}), ...(seed !== undefined ? { seed } : {}) })
  } catch (e) {
    if (e instanceof ConfigurationError) throw new CliUsageError(`--nodes: ${e.message}`)
    throw e
  }
  const counts = new Map<string, number>(specs.map((s) => [s.id, 0]))
  const place = (id: string) => {
    const owner = hashRing.owner(id)
    counts.set(owner, (counts.get(owner) ?? 0) + 1)
  }
  let source: RingReport['source']
  let keys = 0
  if (options.sample === undefined && storeSpec(global) !== undefined) {
    source = 'store'
    await withStore(global, async ({ store }) => {
      const now = Date.now()
      const progress = startProgress('scanning', await withFallbacks(store).count(now), { enabled: global.json !== true && global.progress })
      try {
        for await (const page of scanAll(store, now, progress)) {
          for (const s of page) place(s.id)
          keys += page.length
        }
      } finally {
        progress.stop()
      }
    })
  } else {
    source = 'sample'
    keys = options.sample !== undefined ? intOption(options.sample, '--sample', 1) : DEFAULT_SAMPLE
    for (let i = 0; i < keys; i++) place(newSessionId())
  }
  const totalWeight = specs.reduce((a, s) => a + s.weight, 0)
  const nodes = specs.map((s) => {
    const n = counts.get(s.id) ?? 0
    return { id: s.id, weight: s.weight, keys: n, share: keys > 0 ? n / keys : 0, expectedShare: s.weight / totalWeight }
  })
  // Load per unit of weight, so a node of weight 2 holding twice the keys counts as even.
  const perWeight = nodes.map((n) => n.keys / n.weight)
  const mean = keys / totalWeight
  const report: RingReport = {
    source,
    keys,
    vnodes: hashRing.vnodes,
    nodes,
    maxOverMean: mean > 0 ? Math.max(...perWeight) / mean : 0,
  }
  emit(global.json === true, report, () => [
    `${keys} ${source === 'store' ? 'live session ids' : 'random session ids'} over ${nodes.length} nodes (${hashRing.vnodes} vnodes per unit of weight)`,
    ...table(
      ['NODE', 'WEIGHT', 'KEYS', 'SHARE', 'EXPECTED'],
      nodes.map((n) => [n.id, String(n.weight), String(n.keys), percent(n.share), percent(n.expectedShare)]),
    ),
    `max/mean ${report.maxOverMean.toFixed(3)}`,
  ])
}
