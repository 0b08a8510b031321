/**
 * maxsize-race: 40 concurrent requests over HTTP, each setting a different 60 KB attribute on
 * ONE session (each under the 64 KiB `maxSize` on its own view; all of them wait until every
 * one has loaded the session, so each sees it small). On memory, SQLite (a file) and a private
 * redis-server. Verdicts: the stored session never exceeds `maxSize`, every refused request
 * got 413, later small writes succeed. Full: 5 rounds per store; short: 1.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startRedis } from '../../harness/redis.js'
import { type RaceOutcome, sizeRace } from '../../harness/size-race.js'
import type { SessionStore } from '../../src/core/store.js'
import { memoryStore } from '../../src/stores/memory/index.js'
import { redisStore } from '../../src/stores/redis/index.js'
import { sqliteStore } from '../../src/stores/sqlite/index.js'
import { type Check, type Fault, int, verdict } from '../lib/types.js'

const REQUESTS = 40
const BYTES = 60_000

export const maxsizeRace: Fault = {
  name: 'maxsize-race',
  summary: '40 concurrent HTTP requests each set a different 60 KB attribute on one session (memory, SQLite, Redis).',
  async run(ctx) {
    const rounds = ctx.short ? 1 : 5
    const redis = await startRedis()
    const dir = mkdtempSync(join(tmpdir(), 'sessionmesh-chaos-maxsize-'))
    try {
      const stores: Array<[string, (round: number) => SessionStore]> = [
        ['memory', () => memoryStore()],
        ['sqlite', (round) => sqliteStore({ path: join(dir, `sessions-${round}.db`) })],
        ['redis', (round) => redisStore({ url: redis.url, prefix: `race${round}:` })],
      ]
      const results: Array<{ store: string; round: number } & RaceOutcome> = []
      for (const [name, make] of stores) {
        for (let round = 0; round < rounds; round++) {
          const r = await sizeRace(make(round), { requests: REQUESTS, bytes: BYTES })
          results.push({ store: name, round, ...r })
          ctx.log(`${name} round ${round + 1}: ${r.statuses.filter((s) => s === 200).length} accepted, ${int(r.storedBytes)} bytes stored`)
        }
      }
      const over = results.filter((r) => r.storedBytes < 0 || r.storedBytes > r.maxSize)
      const badStatus = results.filter((r) => r.statuses.some((s) => s !== 200 && s !== 413))
      const stuck = results.filter((r) => r.laterSmallWrites.some((s) => s !== 200))
      const largest = Math.max(...results.map((r) => r.storedBytes))
      const accepted = results.map((r) => r.statuses.filter((s) => s === 200).length)
      const refused = results.map((r) => r.statuses.filter((s) => s === 413).length)
      const checks: Check[] = [
        verdict('the stored session never exceeds maxSize', over.length === 0, `largest ${int(largest)} bytes of ${int(65_536)}${over.length ? `; over: ${over.map((r) => `${r.store} ${int(r.storedBytes)}`).join(', ')}` : ''}`),
        verdict('every request was accepted (200) or refused with 413', badStatus.length === 0, badStatus.map((r) => `${r.store}: ${r.statuses.join(',')}`).join('; ')),
        verdict('later small writes to the session succeed', stuck.length === 0, stuck.map((r) => `${r.store}: ${r.laterSmallWrites.join(',')}`).join('; ')),
      ]
      return {
        checks,
        headline: `largest stored session ${int(largest)} bytes (maxSize 65,536) after ${REQUESTS} concurrent 60 KB sets; ${Math.min(...refused)}–${Math.max(...refused)} refused with 413 per race; later writes ${stuck.length === 0 ? 'succeed' : 'FAIL'}`,
        figures: { requests: REQUESTS, bytes: BYTES, rounds, results: results.map(({ statuses, ...r }) => ({ ...r, accepted: statuses.filter((s) => s === 200).length })) },
        table: [
          ['races × concurrent sets', `${results.length} (memory, SQLite, Redis × ${rounds}) × ${REQUESTS} sets of ${int(BYTES)} bytes`],
          ['accepted / refused (413) per race', `${Math.min(...accepted)}–${Math.max(...accepted)} / ${Math.min(...refused)}–${Math.max(...refused)}`],
          ['largest stored session', `${int(largest)} bytes (maxSize 65,536)`],
          ['later small writes', stuck.length === 0 ? 'all 200' : 'some failed'],
        ],
      }
    } finally {
      await redis.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  },
}
