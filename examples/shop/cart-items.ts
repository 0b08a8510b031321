/** The cart lives in the session as one counter attribute per product, `cart:<sku>`. */
import type { Session } from '../../src/index.js'
import { productBySku, products } from './catalog.js'

export const cartKey = (sku: string) => `cart:${sku}`

export interface CartLine {
  sku: string
  name: string
  price: number
  qty: number
}

/** The cart as lines in catalogue order; `override` holds counts fresher than `session`'s. */
export function cartOf(session: Session, override: ReadonlyMap<string, number> = new Map()): { items: CartLine[]; count: number; total: number } {
  const items: CartLine[] = []
  for (const p of products) {
    const stored = session.get<unknown>(cartKey(p.sku))
    const qty = override.get(p.sku) ?? (typeof stored === 'number' ? stored : 0)
    if (qty > 0) items.push({ ...p, qty })
  }
  return { items, count: items.reduce((n, i) => n + i.qty, 0), total: items.reduce((n, i) => n + i.qty * i.price, 0) }
}

/** A valid add-to-cart body, or an error message. */
export function parseAdd(body: Record<string, unknown>): { sku: string; qty: number } | string {
  const { sku, qty } = body
  if (typeof sku !== 'string' || !productBySku.has(sku)) return `sku must be one of: ${products.map((p) => p.sku).join(', ')}`
  if (typeof qty !== 'number' || !Number.isInteger(qty) || qty < 1 || qty > 99) return 'qty must be an integer from 1 to 99'
  return { sku, qty }
}
