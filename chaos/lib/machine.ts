import { cpus, loadavg, platform, release } from 'node:os'
import type { FaultResult } from './types.js'

export function machine(): FaultResult['machine'] {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${platform()} ${release()}`,
    loadBefore: loadavg().map((l) => l.toFixed(2)).join(' '),
  }
}
