// Standalone entry for the lock benchmark until the runner has a `lock` scenario:
//   node --import tsx bench/lock-main.ts [--rounds 5] [--pairs 2000]
// Prints the table and writes bench/results/lock.json.
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { formatLockBench, lockBench } from './lock.js'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, pairs: { type: 'string', default: '2000' } } })
const result = await lockBench({
  rounds: Number(values.rounds),
  pairs: Number(values.pairs),
  progress: (msg) => process.stderr.write(`${msg}\n`),
})
result.command = `node --import tsx bench/lock-main.ts --rounds ${result.rounds} --pairs ${result.pairs}`
writeFileSync(fileURLToPath(new URL('./results/lock.json', import.meta.url)), JSON.stringify(result, null, 2) + '\n')
process.stdout.write(formatLockBench(result) + '\n')
