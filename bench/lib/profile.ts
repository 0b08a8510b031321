// Summarises a V8 .cpuprofile (written by `node --cpu-prof`): top functions by self time,
// and time by package/area, idle excluded. Used by `npm run bench -- --profile <server>`.
// Node writes one profile per thread (tsx's loader hooks run in a worker), so the busiest
// profile in the directory is the server's main thread.
import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'

interface CpuProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
}
interface CpuProfile {
  nodes: CpuProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

function where(url: string): string {
  if (!url) return 'native'
  const path = url.replace(/^file:\/\//, '')
  const nm = path.lastIndexOf('node_modules/')
  if (nm !== -1) {
    const parts = path.slice(nm + 'node_modules/'.length).split('/')
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? path)
  }
  if (path.startsWith('node:')) return path
  return relative(process.cwd(), path)
}

export async function summarizeProfileDir(dir: string, top = 25): Promise<string> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'))
  const summaries = await Promise.all(files.map((f) => summarizeProfile(join(dir, f), top)))
  const best = summaries.sort((a, b) => b.busy - a.busy)[0]
  if (!best) return `no .cpuprofile in ${dir}`
  return `${relative(process.cwd(), best.file)}\n${best.text}`
}

export async function summarizeProfile(file: string, top = 25): Promise<{ file: string; busy: number; text: string }> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<string, number>()
  const area = new Map<string, number>()
  let busy = 0
  let gc = 0
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)
    const dt = profile.timeDeltas[i] ?? 0
    if (!node) return
    const { functionName, url, lineNumber } = node.callFrame
    if (functionName === '(garbage collector)') gc += dt
    if (functionName === '(idle)' || functionName === '(program)') return
    busy += dt
    const place = where(url)
    const key = `${functionName || '(anonymous)'}  ${place}${url ? `:${lineNumber + 1}` : ''}`
    self.set(key, (self.get(key) ?? 0) + dt)
    const group = place.startsWith('src/') ? place : place.startsWith('node:') ? 'node: internals' : place
    area.set(group, (area.get(group) ?? 0) + dt)
  })
  const pct = (v: number) => `${((100 * v) / busy).toFixed(1).padStart(5)}%`
  const out = [`busy ${(busy / 1e6).toFixed(1)} s of samples (GC ${pct(gc).trim()})`, '', 'top self time:']
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) out.push(`  ${pct(v)}  ${k}`)
  out.push('', 'self time by area:')
  for (const [k, v] of [...area].sort((a, b) => b[1] - a[1]).slice(0, 15)) out.push(`  ${pct(v)}  ${k}`)
  return { file, busy, text: out.join('\n') }
}
