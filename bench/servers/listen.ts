// Shared by the benchmark servers: listen on a free loopback port, announce it as one line
// on stdout (the runner waits for it), and exit cleanly when told to or when the runner's
// pipe closes, so `--cpu-prof` profiles get written and no server outlives the runner.
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Listener {
  listen(port: number, host: string, callback: () => void): Server
}

export function listenAndAnnounce(app: Listener, onClose?: () => Promise<void> | void): void {
  const server = app.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${(server.address() as AddressInfo).port}\n`)
  })
  let closing = false
  const shutdown = () => {
    if (closing) return
    closing = true
    server.closeAllConnections()
    server.close()
    void Promise.resolve(onClose?.()).finally(() => process.exit(0))
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
  process.stdin.on('end', shutdown).on('close', shutdown).resume()
}
