// Runs every test file with node's own test runner (tsx for TypeScript). Node 20's runner
// takes no globs, so the files are listed here.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

const roots = process.argv.slice(2).length ? process.argv.slice(2) : ['test', 'src']
const files = []
const walk = (p) => {
  if (statSync(p).isDirectory()) {
    for (const e of readdirSync(p)) if (e !== 'node_modules') walk(join(p, e))
  } else if (p.endsWith('.test.ts')) files.push(p)
}
for (const r of roots) walk(r)
files.sort()
// --test-force-exit: a test file that leaves a connection open after a failure still ends,
// so one failure cannot hang the whole run (leaks are the soak's business: npm run chaos).
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-force-exit', '--test-reporter=spec', ...files], { stdio: 'inherit' })
process.exit(r.status ?? 1)
