// Export-map check: every subpath in package.json "exports" must resolve to built files in
// dist/ (runtime and types), and importing it by package name (self-reference) must give the
// documented named exports. Needs a build first: `npm test` runs `npm run build` before the
// test runner.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

interface PackageJson {
  name: string
  exports: Record<string, string | Record<string, string>>
}
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson

/** Named runtime exports each public subpath must provide. */
const EXPECTED: Record<string, string[]> = {
  '.': ['createSessions', 'memoryStore', 'signedTokens', 'HashRing', 'RendezvousHash', 'shardedStore', 'sessionAffinity', 'NodeUnavailableError', 'RebalanceInProgressError'],
  './sqlite': ['sqliteStore'],
  './redis': ['redisStore', 'quorumLocks'],
  './interop': ['connectRedisSessions', 'springSessionTokens', 'springSessionStore'],
  './metrics': ['sessionMetrics'],
  './express': ['session'],
  './fastify': ['session'],
  './koa': ['session'],
  './hono': ['session'],
  './node': ['withSession'],
  './testing': ['describeStoreConformance'],
}

const subpaths = Object.keys(pkg.exports).filter((p) => p !== './package.json')
const distBuilt = existsSync(join(root, 'dist'))
const NOT_BUILT = 'dist/ is missing: run `npm run build` first (`npm test` does)'

const specifier = (subpath: string) => (subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`)

function conditions(subpath: string): Record<string, string> {
  const entry = pkg.exports[subpath]
  assert.ok(entry && typeof entry === 'object', `exports["${subpath}"] should be a conditions object`)
  return entry
}

describe('package exports', () => {
  it('lists every documented subpath', () => {
    for (const subpath of Object.keys(EXPECTED)) {
      assert.ok(subpath in pkg.exports, `exports is missing "${subpath}"`)
    }
  })

  for (const subpath of subpaths) {
    describe(subpath, () => {
      it('points "types" and "default" at built files in dist/', () => {
        assert.ok(distBuilt, NOT_BUILT)
        const entry = conditions(subpath)
        const keys = Object.keys(entry)
        assert.equal(keys[0], 'types', `"types" must be the first condition of exports["${subpath}"]`)
        assert.match(entry.types ?? '', /^\.\/dist\/.+\.d\.ts$/, 'types should be a .d.ts file under ./dist')
        assert.match(entry.default ?? '', /^\.\/dist\/.+\.js$/, 'default should be a .js file under ./dist')
        for (const condition of keys) {
          const file = join(root, entry[condition] ?? '')
          assert.ok(existsSync(file), `exports["${subpath}"].${condition} -> ${entry[condition]} does not exist`)
        }
      })

      it(`resolves and imports as ${specifier(subpath)}`, async () => {
        assert.ok(distBuilt, NOT_BUILT)
        const spec = specifier(subpath)
        const expectedFile = join(root, conditions(subpath).default ?? '')
        assert.equal(import.meta.resolve(spec), pathToFileURL(expectedFile).href)
        // A non-literal specifier keeps the typechecker from needing dist/ to exist.
        const mod = (await import(spec)) as Record<string, unknown>
        const names = EXPECTED[subpath]
        if (names) {
          for (const name of names) {
            assert.equal(typeof mod[name], 'function', `${spec} should export a function named ${name}`)
          }
        } else {
          assert.ok(Object.keys(mod).length > 0, `${spec} exports nothing`)
        }
      })
    })
  }

  it('passes publint --strict', { skip: distBuilt ? false : NOT_BUILT }, () => {
    const bin = join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'publint.cmd' : 'publint')
    const r = spawnSync(bin, ['--strict'], { cwd: root, encoding: 'utf8', timeout: 60_000 })
    assert.equal(r.error, undefined, String(r.error))
    assert.equal(r.status, 0, `publint --strict failed:\n${r.stdout}\n${r.stderr}`)
  })
})
