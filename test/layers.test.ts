/**
 * The layers point one way. Every relative import under src/ is read and checked against
 * what its layer may use: the core owns the contracts (store, bus, errors) and depends on
 * nothing above it but its one default store; stores, the shared Redis layer, the cluster
 * and the adapters build on the core; the CLI and the entries sit on top.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src')

/** A file's layer: its first one or two path segments under src/. */
function layerOf(file: string): string {
  const parts = relative(SRC, file).split('/')
  if (parts.length === 1) return 'entry'
  if (parts[0] === 'stores' || parts[0] === 'adapters') return `${parts[0]}/${parts[1]}`
  if (parts[0] === 'cluster' && parts[1] === 'bus') return 'cluster/bus'
  return parts[0] as string
}

/** What each layer may import besides itself. A file may also import anything of its own layer. */
const ALLOWED: Record<string, (target: string, from: string) => boolean> = {
  // The core's one way up: the memory store, its default when none is given.
  core: (t, from) => t === 'stores/memory' && relative(SRC, from) === 'core/manager.ts',
  redis: (t) => t === 'core',
  testing: (t) => t === 'core',
  'stores/memory': (t) => t === 'core',
  // A store's entry also ships its backend's change bus.
  'stores/sqlite': (t) => t === 'core' || t === 'cluster/bus',
  'stores/redis': (t) => t === 'core' || t === 'redis' || t === 'cluster/bus',
  cluster: (t) => t === 'core',
  'cluster/bus': (t) => t === 'core' || t === 'redis',
  interop: (t) => t === 'core' || t === 'redis',
  metrics: (t) => t === 'core',
  'adapters/express': (t) => t === 'core' || t === 'adapters/node',
  'adapters/fastify': (t) => t === 'core' || t === 'adapters/node',
  'adapters/koa': (t) => t === 'core' || t === 'adapters/node',
  'adapters/hono': (t) => t === 'core' || t === 'adapters/node',
  'adapters/node': (t) => t === 'core',
  cli: (t) => !t.startsWith('adapters/') && t !== 'testing' && t !== 'metrics',
  entry: () => true,
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e)
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : []
  })
}

describe('layers', () => {
  it('every import under src/ points down the layers (core imports nothing above it but its default store)', () => {
    const wrong: string[] = []
    const files = sources(SRC)
    for (const file of files) {
      const from = layerOf(file)
      const rule = ALLOWED[from]
      assert.ok(rule, `no rule for layer ${from} (${relative(SRC, file)})`)
      for (const m of readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^'"]*?from '(\.[^']+)'/gm)) {
        const target = layerOf(resolve(dirname(file), m[1] as string))
        if (target !== from && !rule(target, file)) wrong.push(`${relative(SRC, file)} (${from}) imports ${m[1]} (${target})`)
      }
    }
    assert.ok(files.length > 50, 'the sources were found')
    assert.deepEqual(wrong, [])
  })
})
