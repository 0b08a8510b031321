/** A raw RESP PING over a fresh TCP connection: true on +PONG, false on anything else. */
import { connect } from 'node:net'

export function ping(port: number, timeoutMs = 200): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    let reply = ''
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.on('error', () => done(false))
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', (d: Buffer) => {
      reply += d.toString()
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'))
    })
  })
}

/** Polls PING every 5 ms until it answers PONG; resolves with the time it first did (Date.now()). */
export async function firstPong(port: number, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await ping(port)) return Date.now()
    if (Date.now() > deadline) throw new Error(`no PONG from ${port} within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 5))
  }
}
