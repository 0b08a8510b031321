/**
 * Worker thread that sends the fuzz requests with fetch (keep-alive, bounded concurrency),
 * so the client's work runs on another core than the server under test. Posts back one line
 * per bad answer.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { pool } from './http.js'
import type { FuzzCase } from './fuzz.js'

const { url, cases, limit, cookieShape } = workerData as { url: string; cases: FuzzCase[]; limit: number; cookieShape: string }
const shape = new RegExp(cookieShape)
const failures: string[] = []
await pool(cases.length, limit, async (i) => {
  const c = cases[i] as FuzzCase
  const what = () => JSON.stringify(c.headers).slice(0, 300)
  try {
    const res = await fetch(url + c.path, { method: c.method, headers: c.headers })
    const body = await res.text()
    const cookies = res.headers.getSetCookie()
    const refused = c.csrfRefusalAllowed === true && res.status === 403 && (JSON.parse(body) as { code?: string }).code === 'CSRF'
    const answered = refused || (res.status === 200 && (c.bodyIncludes === undefined || body.includes(c.bodyIncludes)))
    if (!answered || cookies.some((s) => !shape.test(s))) failures.push(`#${i} ${res.status} ${what()} -> ${cookies.join(' | ')} ${body.slice(0, 200)}`)
  } catch (e) {
    failures.push(`#${i} ${String(e)} ${what()}`)
  }
})
parentPort?.postMessage(failures)
