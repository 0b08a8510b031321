// Compiles src/ with tsc (tsconfig.build.json, as `npm run build` does for the package) into
// a git-ignored folder, so the sessionmesh server runs the code users get rather than src/
// through tsx (whose esbuild transform adds keepNames helpers to every closure).
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync } from 'node:fs'
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
 * Compiles git revision `rev`'s src/ (with its own tsconfig files) into a git-ignored folder
 * inside the repository, so its imports resolve from this checkout's node_modules. For an A/B
 * run: the same scenarios, the same machine, the same minute.
 */
export function buildBaseline(rev: string): string {
  const dir = fileURLToPath(new URL(`../results/baseline-${rev.replace(/[^\w.-]/g, '_')}.tmp/`, import.meta.url))
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const archive = spawnSync('git', ['archive', '--format=tar', rev, 'src', 'tsconfig.json', 'tsconfig.build.json'], { cwd: ROOT, maxBuffer: 256 * 1024 * 1024 })
  if (archive.status !== 0) throw new Error(`git archive ${rev} failed: ${String(archive.stderr)}`)
  const untar = spawnSync('tar', ['-x', '-C', dir], { input: archive.stdout })
  if (untar.status !== 0) throw new Error(`untar failed: ${String(untar.stderr)}`)
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  const out = `${dir}dist/`
  const r = spawnSync(process.execPath, [tsc, '-p', `${dir}tsconfig.build.json`, '--outDir', out, '--declaration', 'false', '--sourceMap', 'false'], { cwd: dir, encoding: 'utf8' })
  if (!existsSync(`${out}index.js`) || !existsSync(`${out}adapters/express/index.js`)) throw new Error(`tsc build of ${rev} failed:\n${r.stdout}${r.stderr}`)
  return out
}

/**
 * Imports a module of sessionmesh (`path` relative to src/, as .js) from the tsc build at
 * `root` (what the runner passes its servers as SESSIONMESH_ROOT), or from src/ without one.
 */
export const loadSessionmesh = async <T>(path: string, root: string | undefined = process.env.SESSIONMESH_ROOT): Promise<T> =>
  (await import(root ? pathToFileURL(`${root}/${path}`).href : `../../src/${path}`)) as T
