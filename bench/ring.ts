// The `ring` scenario: an in-process micro-benchmark of our HashRing against the `hashring`
// package (Ketama-style MD5 ring) in the same run. Lookup cost includes hashing the session id;
// balance and movement on one join are measured over 30 seeds, 10 nodes, default vnodes.
import HashRingPackage from 'hashring'
import { HashRing } from '../src/cluster/index.js'
import type { CustomScenario } from './lib/custom.js'
import { machine, type Machine } from './lib/report.js'
import { nodeIds, prng, sessionIds } from '../harness/ring-data.js'

const NODES = 10
const SEEDS = 30
const BALANCE_KEYS = 100_000
const LOOKUP_KEYS = 100_000

/** Printed beside the figures, never asserted. */
export const RING_TARGETS = { lookupNs: 300, speedup: 10, balanceMedian: 1.15, balanceWorst: 1.25, join: 1.1 }

interface Spread {
  median: number
  min: number
  max: number
}

export interface RingResult {
  scenario: 'ring'
  title: string
  date: string
  command: string
  machine: Machine
  settings: { rounds: number; lookupKeys: number; nodes: number; seeds: number; balanceKeys: number }
  /** ns per lookup (hash included), per round: median and range over the rounds. */
  lookup: { ours: Spread; hashring: Spread; speedup: number }
  /** max/mean keys per node over the seeds. */
  balance: { ours: Spread; hashring: Spread }
  /** Keys moved on one join, as a multiple of the ideal 1/(n+1), over the seeds. */
  join: { ours: Spread; hashring: Spread; betweenSurvivors: { ours: number; hashring: number } }
}


function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b)
  return { median: sorted[sorted.length >> 1] as number, min: sorted[0] as number, max: sorted[sorted.length - 1] as number }
}

type Lookup = (key: string) => string

/** ns per lookup over every key once; the owners are folded into a checksum so no call is optimised away. */
function timeLookups(lookup: Lookup, keys: readonly string[]): { ns: number; check: number } {
  let check = 0
  const start = process.hrtime.bigint()
  for (let i = 0; i < keys.length; i++) check += lookup(keys[i] as string).length
  return { ns: Number(process.hrtime.bigint() - start) / keys.length, check }
}

function maxOverMean(lookup: Lookup, nodes: readonly string[], keys: readonly string[]): number {
  const counts = new Map<string, number>(nodes.map((n) => [n, 0]))
  for (const k of keys) {
    const o = lookup(k)
    counts.set(o, (counts.get(o) ?? 0) + 1)
  }
  return Math.max(...counts.values()) / (keys.length / nodes.length)
}

/** Moved share on a join over 1/(n+1), and keys that moved between two nodes that both stayed. */
function joinMovement(before: Lookup, after: Lookup, joined: string, keys: readonly string[], n: number): { ratio: number; between: number } {
  let moved = 0
  let between = 0
  for (const k of keys) {
    const a = before(k)
    const b = after(k)
    if (a !== b) {
      moved++
      if (b !== joined) between++
    }
  }
  return { ratio: moved / keys.length / (1 / (n + 1)), between }
}

const ours = (nodes: readonly string[]) => {
  const ring = new HashRing({ nodes })
  return (k: string) => ring.owner(k)
}
const theirs = (nodes: readonly string[]) => {
  const ring = new HashRingPackage([...nodes])
  return (k: string) => ring.get(k)
}

export function runRing(rounds: number, command: string, log: (line: string) => void): RingResult {
  const m = machine()
  log(`\n[ring] HashRing vs the hashring package: ${rounds} rounds of ${LOOKUP_KEYS.toLocaleString('en')} lookups, ${NODES} nodes; balance and join over ${SEEDS} seeds`)
  const random = prng(1)
  const nodes = nodeIds(random, NODES)
  const keys = sessionIds(random, LOOKUP_KEYS)
  const a = ours(nodes)
  const b = theirs(nodes)
  // Warm-up: let both be compiled before anything counts.
  timeLookups(a, keys)
  timeLookups(b, keys)
  const oursNs: number[] = []
  const theirsNs: number[] = []
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first so neither always runs on a warmer (or busier) machine.
    const pair = r % 2 === 0 ? [timeLookups(a, keys), timeLookups(b, keys)] : [timeLookups(b, keys), timeLookups(a, keys)].reverse()
    oursNs.push((pair[0] as { ns: number }).ns)
    theirsNs.push((pair[1] as { ns: number }).ns)
    log(`[ring] round ${r + 1}/${rounds}  HashRing ${oursNs.at(-1)?.toFixed(0)} ns   hashring ${theirsNs.at(-1)?.toFixed(0)} ns`)
  }
  const balanceOurs: number[] = []
  const balanceTheirs: number[] = []
  const joinOurs: number[] = []
  const joinTheirs: number[] = []
  let betweenOurs = 0
  let betweenTheirs = 0
  for (let seed = 1; seed <= SEEDS; seed++) {
    const rnd = prng(seed * 7919)
    const ids = nodeIds(rnd, NODES + 1)
    const base = ids.slice(0, NODES)
    const joined = ids[NODES] as string
    const sample = sessionIds(rnd, BALANCE_KEYS)
    const [o, t] = [ours(base), theirs(base)]
    balanceOurs.push(maxOverMean(o, base, sample))
    balanceTheirs.push(maxOverMean(t, base, sample))
    const jo = joinMovement(o, ours(ids), joined, sample, NODES)
    const jt = joinMovement(t, theirs(ids), joined, sample, NODES)
    joinOurs.push(jo.ratio)
    joinTheirs.push(jt.ratio)
    betweenOurs += jo.between
    betweenTheirs += jt.between
  }
  const lookupOurs = spread(oursNs)
  const lookupTheirs = spread(theirsNs)
  log(`[ring] balance and join over ${SEEDS} seeds done`)
  return {
    scenario: 'ring',
    title: 'Consistent-hash ring: HashRing vs the hashring package',
    date: new Date().toISOString(),
    command,
    machine: m,
    settings: { rounds, lookupKeys: LOOKUP_KEYS, nodes: NODES, seeds: SEEDS, balanceKeys: BALANCE_KEYS },
    lookup: { ours: lookupOurs, hashring: lookupTheirs, speedup: lookupTheirs.median / lookupOurs.median },
    balance: { ours: spread(balanceOurs), hashring: spread(balanceTheirs) },
    join: { ours: spread(joinOurs), hashring: spread(joinTheirs), betweenSurvivors: { ours: betweenOurs, hashring: betweenTheirs } },
  }
}

const f = (x: number, digits = 3) => x.toFixed(digits)
const met = (ok: boolean) => (ok ? 'yes' : '**no**')

/** The rows both the printed table and the docs section show. */
function rows(r: RingResult): string[][] {
  const t = RING_TARGETS
  return [
    ['lookup, ns (hash included), median of rounds', f(r.lookup.ours.median, 0), f(r.lookup.hashring.median, 0), `≤ ${t.lookupNs}`, met(r.lookup.ours.median <= t.lookupNs)],
    ['lookup, ns, range over rounds', `${f(r.lookup.ours.min, 0)} – ${f(r.lookup.ours.max, 0)}`, `${f(r.lookup.hashring.min, 0)} – ${f(r.lookup.hashring.max, 0)}`, '', ''],
    ['lookup speed-up (hashring / HashRing)', `${f(r.lookup.speedup, 1)}x`, '', `≥ ${t.speedup}x`, met(r.lookup.speedup >= t.speedup)],
    ['max/mean load, median seed', f(r.balance.ours.median), f(r.balance.hashring.median), `≤ ${t.balanceMedian}`, met(r.balance.ours.median <= t.balanceMedian)],
    ['max/mean load, worst seed', f(r.balance.ours.max), f(r.balance.hashring.max), `≤ ${t.balanceWorst}`, met(r.balance.ours.max <= t.balanceWorst)],
    ['join: moved / (1/(n+1)), median seed', f(r.join.ours.median), f(r.join.hashring.median), '', ''],
    ['join: moved / (1/(n+1)), worst seed', f(r.join.ours.max), f(r.join.hashring.max), `≤ ${t.join}`, met(r.join.ours.max <= t.join)],
    ['join: keys moved between nodes that stayed', String(r.join.betweenSurvivors.ours), String(r.join.betweenSurvivors.hashring), '0', met(r.join.betweenSurvivors.ours === 0)],
  ]
}

export function ringMarkdown(r: RingResult): string {
  const m = r.machine
  const s = r.settings
  return [
    `_Generated by \`${r.command}\` on ${r.date.slice(0, 10)}: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}, load average ${m.loadBefore} at start._`,
    '',
    `_In one process: ${s.rounds} rounds of ${s.lookupKeys.toLocaleString('en')} distinct session ids looked up on ${s.nodes} nodes by each ring (alternating which goes first), after a warm-up round; balance and join movement over ${s.seeds} seeds of ${s.nodes} random \`host:port\` nodes and ${s.balanceKeys.toLocaleString('en')} session ids each. Both rings at their defaults: HashRing 1000 points per node, hashring 160 (Ketama, MD5) with its 5,000-entry LRU cache, which distinct ids mostly miss. Targets are printed, never asserted._`,
    '',
    '| measure | HashRing | hashring | target | met? |',
    '|---|---:|---:|---:|:---:|',
    ...rows(r).map((row) => `| ${row.join(' | ')} |`),
  ].join('\n')
}

export function ringText(r: RingResult): string {
  const table = [['measure', 'HashRing', 'hashring', 'target', 'met?'], ...rows(r)]
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => (row[c] ?? '').length)))
  return ['', `== ${r.title} ==`, ...table.map((row) => row.map((cell, c) => cell.replace(/\*\*/g, '').padEnd(widths[c] ?? 0)).join('  '))].join('\n')
}

/** `npm run bench -- ring`: 7 × --rounds rounds of lookups. */
export const ringScenario: CustomScenario<RingResult> = {
  name: 'ring',
  summary: 'in-process: HashRing vs the hashring package (7 x --rounds rounds of lookups; balance, movement on a join)',
  run: async (ctx) => runRing(ctx.settings.rounds * 7, ctx.command, ctx.log),
  text: ringText,
  markdown: ringMarkdown,
}
