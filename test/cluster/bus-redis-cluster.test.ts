/**
 * The Redis Streams bus on a 3-master Redis Cluster started here: the shared behaviour
 * suite (the stream is one key, so one shard serves it; a cut connection is CLIENT KILL of
 * the subscriber's named reader on whichever node it is connected to).
 */
import { after, before } from 'node:test'
import { redisStreamBus } from '../../src/cluster/bus/redis-streams.js'
import { cli, startCluster, type RedisClusterProcesses } from '../../harness/redis.js'
import { busSuite, killByName } from './fixtures/bus-suite.js'

let cluster: RedisClusterProcesses
before(async () => {
  cluster = await startCluster(3)
})
after(async () => {
  await cluster?.stop()
})

busSuite('redis cluster', () => ({
  make: (stream, extra) => redisStreamBus({ redis: { cluster: { rootNodes: cluster.rootNodes } }, stream, ...extra }),
  fixture: (stream, clientName) => ({ kind: 'redis', rootNodes: cluster.rootNodes, stream, clientName }),
  cut: (name) => killByName(cluster.nodes.map((n) => n.port), name),
  // -c follows MOVED to the node owning the stream's slot.
  writeRaw: async (stream, raw) => void (await cli(cluster.nodes[0]!.port, '-c', 'XADD', stream, '*', 'e', raw)),
}))
