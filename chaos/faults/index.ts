/** Every fault, in the order `npm run chaos` runs them. */
import type { Fault } from '../lib/types.js'
import { clusterFailover } from './cluster-failover.js'
import { fuzz } from './fuzz.js'
import { redisRestart } from './redis-restart.js'
import { sentinelFailover } from './sentinel-failover.js'
import { sqliteContention } from './sqlite-contention.js'
import { soak } from './soak.js'

export const faults: Fault[] = [redisRestart, sentinelFailover, clusterFailover, sqliteContention, fuzz, soak]
