/**
 * The Redis store's change feed: a subscription to the channel its write scripts PUBLISH on
 * (`<version> <id>`, or `- <id>` for a removal), on a connection of its own (a subscribed
 * connection takes no other commands). node-redis reconnects and re-subscribes by itself and
 * says `ready` only once the subscription is back, so the feed is `connected` exactly while
 * nothing can be missed. A node that stays unreachable is given up for another (Cluster, Sentinel).
 */
import type { StoreWatch, StoreWatchListener } from '../../core/store.js'
import type { RedisConnection } from '../../redis/index.js'

/** Failed reconnects to one node before the feed moves to another (where there is another). */
const NODE_ATTEMPTS = 5

export function watchChanges(
  connection: () => Promise<RedisConnection>,
  channel: string,
  clientName: string,
  listener: StoreWatchListener,
  onError: (e: Error) => void,
): StoreWatch {
  let closed = false
  let connected = false
  let current: { destroy(): void; close(): Promise<unknown>; isOpen: boolean } | null = null
  const report = (up: boolean) => {
    if (up === connected) return
    connected = up
    listener.status(up)
  }
  const onMessage = (message: string) => {
    const space = message.indexOf(' ')
    if (space <= 0) return
    const head = message.slice(0, space)
    const version = head === '-' ? null : Number(head)
    // Anything else published here still drops the copy: the safe reading of a message we do not understand.
    listener.changed(message.slice(space + 1), version !== null && Number.isSafeInteger(version) ? version : null)
  }

  const subscribe = async (attempt: number): Promise<void> => {
    for (let tries = 0; !closed; tries++) {
      let client: Awaited<ReturnType<RedisConnection['subscriber']>> | null = null
      try {
        const c = await connection()
        client = await c.subscriber(attempt + tries, clientName)
        const mine = client
        let subscribed = false
        let failures = 0
        mine.on('error', (e: Error) => {
          report(false)
          onError(e)
        })
        mine.on('end', () => report(false))
        mine.on('ready', () => {
          failures = 0
          if (subscribed) report(true)
        })
        mine.on('reconnecting', () => {
          report(false)
          if (++failures >= NODE_ATTEMPTS && c.mode !== 'standalone' && current === mine) {
            current = null
            mine.destroy()
            void subscribe(attempt + tries + 1)
          }
        })
        await mine.connect()
        await mine.subscribe(channel, onMessage)
        if (closed) {
          mine.destroy()
          return
        }
        subscribed = true
        current = mine
        report(true)
        return
      } catch (e) {
        onError(e instanceof Error ? e : new Error(String(e)))
        if (client?.isOpen) client.destroy()
        await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** Math.min(tries, 5), 1000)))
      }
    }
  }
  void subscribe(0)

  return {
    async close() {
      closed = true
      const c = current
      current = null
      if (c?.isOpen) await c.close()
    },
  }
}
