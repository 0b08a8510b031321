// The package as an outsider meets it: `npm pack` this repository, install the tarball into a
// scratch project in a temp dir (with @types/node and nothing else: none of the optional
// peers), then, from that project:
// - type-check a memory-only consumer (fixtures/consumer: strict, nodenext,
//   exactOptionalPropertyTypes, skipLibCheck off) with this repo's TypeScript;
// - run the published conformance suite `sessionmesh/testing` against a store written
//   outside src/ in plain JS that imports only published exports (fixtures/outside-store).
// Needs a build first (`npm test` runs `npm run build`), so the tarball is packed with
// --ignore-scripts (a plain `npm pack` builds through "prepack"); needs the npm registry or
// a warm npm cache (after `npm ci` the cache holds every dependency).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { cpSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { stripVTControlCharacters } from 'node:util'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const fixtures = join(root, 'test', 'package', 'fixtures')
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')

interface PackageJson {
  name: string
  peerDependencies?: Record<string, string>
  peerDependenciesMeta?: Record<string, { optional?: boolean }>
}
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson

/**
 * Packages a memory-only consumer must not get: every peer (all optional), their type
 * packages (which would let the d.ts resolve what it must not need) and the older NATS client.
 */
const peers = Object.keys(pkg.peerDependencies ?? {})
const FORBIDDEN = [
  ...new Set([
    ...peers,
    ...Object.keys(pkg.peerDependenciesMeta ?? {}),
    ...peers.filter((p) => !p.startsWith('@')).map((p) => `@types/${p}`),
    ...['redis', 'better-sqlite3', 'express', 'fastify', 'koa', 'hono', 'prom-client', 'nats', '@redis/client'],
  ]),
].sort()

/** Files the tarball must contain: the root entry (runtime and types) and the testing subpath. */
const PACKED = ['dist/index.js', 'dist/index.d.ts', 'dist/testing/index.js', 'dist/testing/index.d.ts']

const INSTALL_TIMEOUT_MS = 240_000
const CHECK_TIMEOUT_MS = 180_000

interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** stdout and stderr interleaved as they came, for failure messages. */
  output: string
}

/**
 * The environment an outsider's shell would have: without the variables `npm test` sets for
 * this repository (npm_config_local_prefix and friends would point a child npm back here),
 * without node:test's child-process marker (a nested runner would report in the parent's
 * wire format) and without NODE_OPTIONS (which may carry this repo's `--import tsx`). Where
 * the npm cache, config files, registry and proxies are is kept.
 */
function outsiderEnv(): NodeJS.ProcessEnv {
  const keep = /^npm_config_(cache|userconfig|globalconfig|registry|proxy|https_proxy|noproxy|strict_ssl|cafile)$/i
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(name) && !keep.test(name)) continue
    if (name === 'NODE_TEST_CONTEXT' || name === 'NODE_OPTIONS' || name === 'NODE_PATH' || name === 'INIT_CWD') continue
    env[name] = value
  }
  return env
}

function run(command: string, args: string[], cwd: string, timeoutMs: number): Promise<RunResult> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, {
      cwd,
      env: outsiderEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
      // npm is npm.cmd on Windows, which only a shell runs.
      shell: process.platform === 'win32' && command === 'npm',
    })
    let stdout = ''
    let stderr = ''
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
      output += chunk
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
      output += chunk
    })
    child.on('error', fail)
    child.on('close', (code, signal) => done({ code, signal, stdout, stderr, output }))
  })
}

/** npm itself: the npm-cli.js running `npm test` when there is one, else `npm` on PATH. */
function npm(args: string[], cwd: string, timeoutMs: number): Promise<RunResult> {
  const cli = process.env['npm_execpath']
  if (cli && /npm-cli\.[cm]?js$/.test(basename(cli))) return run(process.execPath, [cli, ...args], cwd, timeoutMs)
  return run('npm', args, cwd, timeoutMs)
}

const describeRun = (what: string, r: RunResult) =>
  `${what} exited with ${r.signal ? `signal ${r.signal} (timed out?)` : `code ${r.code}`}:\n${r.output}`

/** Every package name installed anywhere under `dir` (hoisted or nested). */
function installedPackages(dir: string, found = new Set<string>()): Set<string> {
  if (!existsSync(dir)) return found
  for (const entry of readdirSync(dir)) {
    if (entry.startsWith('.')) continue
    const names = entry.startsWith('@') ? readdirSync(join(dir, entry)).map((n) => `${entry}/${n}`) : [entry]
    for (const name of names) {
      found.add(name)
      installedPackages(join(dir, name, 'node_modules'), found)
    }
  }
  return found
}

/** The runner's summary counters (`ℹ pass 12` with the spec reporter, `# pass 12` with tap). */
function summary(output: string): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const m of stripVTControlCharacters(output).matchAll(/^[ℹ#] (tests|suites|pass|fail|cancelled|skipped|todo) (\d+)$/gmu)) {
    counts[m[1] as string] = Number(m[2])
  }
  return counts
}

describe('the packed tarball, installed by an outsider', () => {
  let temp = ''
  let project = ''
  let packedFiles: string[] = []

  before(
    async () => {
      assert.ok(existsSync(join(root, 'dist', 'index.js')), 'dist/ is missing: run `npm run build` first (`npm test` does)')
      temp = realpathSync(mkdtempSync(join(tmpdir(), 'sessionmesh-tarball-')))
      project = join(temp, 'outsider')

      const pack = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', temp], root, INSTALL_TIMEOUT_MS)
      assert.equal(pack.code, 0, describeRun('npm pack', pack))
      // npm prints its JSON report on stdout; anything before the opening bracket is not ours.
      const start = pack.stdout.indexOf('[')
      assert.ok(start >= 0, `npm pack --json printed no report:\n${pack.output}`)
      const report = JSON.parse(pack.stdout.slice(start)) as Array<{ filename: string; files: Array<{ path: string }> }>
      const packed = report[0]
      assert.ok(packed, `npm pack reported nothing:\n${pack.output}`)
      packedFiles = packed.files.map((f) => f.path)
      const tarball = join(temp, basename(packed.filename))
      assert.ok(existsSync(tarball), `npm pack wrote no ${tarball}`)

      cpSync(join(fixtures, 'outside-store'), project, { recursive: true })
      cpSync(join(fixtures, 'consumer'), project, { recursive: true })
      writeFileSync(join(project, 'package.json'), `${JSON.stringify({ name: 'sessionmesh-outsider', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`)
      const install = await npm(['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, '@types/node@20'], project, INSTALL_TIMEOUT_MS)
      assert.equal(install.code, 0, describeRun('npm install', install))
    },
    { timeout: INSTALL_TIMEOUT_MS * 2 },
  )

  after(() => {
    if (temp) rmSync(temp, { recursive: true, force: true })
  })

  it('contains the built entry points', () => {
    for (const file of PACKED) assert.ok(packedFiles.includes(file), `the tarball has no ${file} (it has ${packedFiles.length} files)`)
  })

  it('installs as a copy of the tarball, without any optional peer', () => {
    const installed = join(project, 'node_modules', pkg.name)
    assert.ok(existsSync(join(installed, 'dist', 'index.js')), `${installed} has no dist/index.js`)
    assert.equal(lstatSync(installed).isSymbolicLink(), false, `${installed} is a link, not the unpacked tarball`)
    const present = [...installedPackages(join(project, 'node_modules'))]
    assert.ok(present.includes('@types/node'), '@types/node should be installed')
    assert.deepEqual(
      FORBIDDEN.filter((name) => present.includes(name)),
      [],
      'optional peers (or their types) got installed',
    )
  })

  it(
    'type-checks a memory-only consumer: strict, nodenext, exactOptionalPropertyTypes, skipLibCheck off',
    { timeout: CHECK_TIMEOUT_MS },
    async () => {
      const r = await run(process.execPath, [tsc, '-p', join(project, 'tsconfig.json'), '--listFiles', '--pretty', 'false'], project, CHECK_TIMEOUT_MS)
      // --listFiles prints every file read, one absolute path a line; the rest is diagnostics.
      const lines = r.stdout.split(/\r?\n/).filter((line) => line.trim() !== '')
      const read = lines.filter((line) => isAbsolute(line) && existsSync(line))
      const diagnostics = lines.filter((line) => !read.includes(line)).join('\n')
      assert.equal(r.code, 0, describeRun('tsc', { ...r, output: `${diagnostics}\n${r.stderr}` }))
      // Every file the compiler read is TypeScript's own lib or inside the scratch project:
      // 'sessionmesh' resolved to the installed tarball, never to this repository.
      const tsLib = join(root, 'node_modules', 'typescript', 'lib') + sep
      const outside = read.filter((f) => !resolve(f).startsWith(tsLib) && !resolve(f).startsWith(project + sep))
      assert.deepEqual(outside, [], 'tsc read files outside the scratch project')
      const entry = join(project, 'node_modules', pkg.name, 'dist', 'index.d.ts')
      assert.ok(read.map((f) => resolve(f)).includes(entry), `tsc never read ${entry}:\n${r.output}`)
    },
  )

  it(
    'a store written outside src/ passes sessionmesh/testing',
    { timeout: CHECK_TIMEOUT_MS },
    async () => {
      const r = await run(
        process.execPath,
        ['--test', '--test-force-exit', '--test-reporter=spec', join(project, 'outside-store.test.mjs')],
        project,
        CHECK_TIMEOUT_MS,
      )
      assert.equal(r.code, 0, describeRun('node --test outside-store.test.mjs', r))
      const counts = summary(r.output)
      assert.ok((counts['pass'] ?? 0) > 0, `no conformance test passed:\n${r.output}`)
      assert.equal(counts['fail'], 0, `conformance failures:\n${r.output}`)
      assert.equal(counts['cancelled'] ?? 0, 0, `conformance tests cancelled:\n${r.output}`)
    },
  )
})
