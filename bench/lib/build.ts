// Compiles src/ with tsc (tsconfig.build.json, as `npm run build` does for the package) into
// a git-ignored folder, so the sessionmesh server runs the code users get rather than src/
// through tsx (whose esbuild transform adds keepNames helpers to every closure).
import { spawnSync } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
/** Matches .gitignore's `bench/results/*.tmp`. */
export const BUILD_DIR = fileURLToPath(new URL('../results/dist.tmp/', import.meta.url))

export function buildSessionmesh(): string {
  rmSync(BUILD_DIR, { recursive: true, force: true })
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  const args = [tsc, '-p', 'tsconfig.build.json', '--outDir', BUILD_DIR, '--declaration', 'false', '--sourceMap', 'false']
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' })
  if (!existsSync(`${BUILD_DIR}index.js`) || !existsSync(`${BUILD_DIR}adapters/express/index.js`)) {
    throw new Error(`tsc build of src/ failed:\n${r.stdout}${r.stderr}`)
  }
  // tsc still emits on type errors; the benchmark can run, but say so.
  if (r.status !== 0) process.stderr.write(`warning: src/ has type errors; benchmarking the emitted JS anyway\n`)
  return BUILD_DIR
}

/**
 * Imports a module of sessionmesh (`path` relative to src/, as .js) from the tsc build at
 * `root` (what the runner passes its servers as SESSIONMESH_ROOT), or from src/ without one.
 */
export const loadSessionmesh = async <T>(path: string, root: string | undefined = process.env.SESSIONMESH_ROOT): Promise<T> =>
  (await import(root ? pathToFileURL(`${root}/${path}`).href : `../../src/${path}`)) as T
