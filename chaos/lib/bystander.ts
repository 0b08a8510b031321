/**
 * A bystander Redis client in a worker thread (its own event loop, so the fault's own work
 * cannot delay it): one connection sending PING after PING, every round trip timed. What
 * every other client of that Redis would feel while a script runs.
 */
import { Worker } from 'node:worker_threads'

const CODE = `
const { parentPort, workerData } = require('node:worker_threads')
const { connect } = require('node:net')
const socket = connect({ host: '127.0.0.1', port: workerData.port })
const latencies = []
let errors = 0, stopping = false, sentAt = 0, buffer = ''
const send = () => { sentAt = performance.now(); socket.write('PING\\r\\n') }
socket.on('connect', () => { parentPort.postMessage({ ready: true }); send() })
socket.on('error', () => { errors++ })
socket.on('data', (d) => {
  buffer += d.toString()
  while (buffer.includes('\\r\\n')) {
    const line = buffer.slice(0, buffer.indexOf('\\r\\n'))
    buffer = buffer.slice(buffer.indexOf('\\r\\n') + 2)
    if (line === '+PONG') latencies.push(performance.now() - sentAt); else errors++
    if (stopping) { socket.destroy(); parentPort.postMessage({ latencies, errors }); return }
    setTimeout(send, 1)
  }
})
parentPort.on('message', () => { stopping = true })
`

export interface BystanderResult {
  pings: number
  errors: number
  p50: number
  p99: number
  max: number
}

/** Starts pinging `port`; `stop()` ends it and returns the round-trip figures (ms). */
export async function bystander(port: number): Promise<{ stop(): Promise<BystanderResult> }> {
  const worker = new Worker(CODE, { eval: true, workerData: { port } })
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve())
    worker.once('error', reject)
  })
  return {
    stop: () =>
      new Promise<BystanderResult>((resolve, reject) => {
        worker.once('message', (m: { latencies: number[]; errors: number }) => {
          void worker.terminate()
          const sorted = [...m.latencies].sort((a, b) => a - b)
          const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN
          resolve({ pings: sorted.length, errors: m.errors, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? NaN })
        })
        worker.once('error', reject)
        worker.postMessage('stop')
      }),
  }
}
