/**
 * Runs the real CLI as a child process (`node --import tsx src/cli/index.ts`), as a user
 * would, and collects its exit code, stdout and stderr.
 */
import { execFile } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const entry = join(root, 'src/cli/index.ts')

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

/** `sessionmesh ...args`; `env` is added to a copy of this process's environment without SESSIONMESH_STORE. */
export function sessionmesh(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const base = { ...process.env }
  delete base.SESSIONMESH_STORE
  return new Promise((resolvePromise, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', entry, ...args],
      { cwd: root, env: { ...base, ...env }, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') return reject(new Error(`cannot run the CLI: ${error.message}`, { cause: error }))
        resolvePromise({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr })
      },
    )
  })
}

/** Runs and parses stdout as JSON, failing with the CLI's stderr if it did not exit 0. */
export async function sessionmeshJson<T>(args: string[], env: Record<string, string> = {}): Promise<T> {
  // Before a `--` (ids may start with '-', so tests pass them after `--`).
  const end = args.indexOf('--')
  const r = await sessionmesh(end === -1 ? [...args, '--json'] : [...args.slice(0, end), '--json', ...args.slice(end)], env)
  if (r.code !== 0) throw new Error(`sessionmesh ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout) as T
}
