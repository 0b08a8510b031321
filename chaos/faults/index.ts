/** Every fault, in the order `npm run chaos` runs them. */
import type { Fault } from '../lib/types.js'
import { clusterFailover } from './cluster-failover.js'
import { fuzz } from './fuzz.js'
import { luaAdversarial } from './lua-adversarial.js'
import { maxsizeRace } from './maxsize-race.js'
import { redisBlackhole } from './redis-blackhole.js'
import { redisRestart } from './redis-restart.js'
import { replicatedNoReplica } from './replicated-no-replica.js'
import { sentinelFailover } from './sentinel-failover.js'
import { sqliteContention } from './sqlite-contention.js'
import { sqliteLocked } from './sqlite-locked.js'
import { soak } from './soak.js'

export const faults: Fault[] = [redisRestart, redisBlackhole, replicatedNoReplica, sentinelFailover, clusterFailover, sqliteContention, sqliteLocked, luaAdversarial, maxsizeRace, fuzz, soak]
