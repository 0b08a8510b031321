// Shared by the benchmark servers: listen on a free loopback port, announce it as one line
// on stdout (the runner waits for it), and exit cleanly when told to or when the runner's
// pipe closes, so `--cpu-prof` profiles get written and no server outlives the runner.
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'

export interface Listener {
  listen(port: number, host: string, callback: () => void): Server
}

/** Exits the process (after `close`) on SIGTERM, SIGINT, or when the runner's pipe closes. */
function exitOnShutdown(close: () => Promise<void> | void): void {
  let closing = false
  const shutdown = () => {
    if (closing) return
    closing = true
    void Promise.resolve()
      .then(close)
      .finally(() => process.exit(0))
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
  process.stdin.on('end', shutdown).on('close', shutdown).resume()
}

const announce = (server: Server) => void process.stdout.write(`${(server.address() as AddressInfo).port}\n`)

/** An Express (or any `listen(port, host, cb)`) app. */
export function listenAndAnnounce(app: Listener, onClose?: () => Promise<void> | void): void {
  const server = app.listen(0, '127.0.0.1', () => announce(server))
  exitOnShutdown(async () => {
    server.closeAllConnections()
    server.close()
    await onClose?.()
  })
}

/** A Fastify app (registered plugins and routes; not yet listening). */
export async function listenFastifyAndAnnounce(app: FastifyInstance, onClose?: () => Promise<void> | void): Promise<void> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  announce(app.server)
  exitOnShutdown(async () => {
    app.server.closeAllConnections()
    await app.close()
    await onClose?.()
  })
}
