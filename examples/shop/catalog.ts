/** The demo's fixed data: accounts and products. Every service reads the same lists. */

/** Demo accounts. Plain-text passwords because this is a demo; never do this for real. */
export const accounts: Readonly<Record<string, string>> = { alice: 'alice-pass', bob: 'bob-pass' }

export interface Product {
  sku: string
  name: string
  /** Price in cents, so totals stay exact. */
  price: number
}

export const products: readonly Product[] = [
  { sku: 'mug', name: 'Consistent-hash mug', price: 1200 },
  { sku: 'tee', name: 'Fencing-token T-shirt', price: 2400 },
  { sku: 'sticker', name: 'Session sticker pack', price: 300 },
  { sku: 'hoodie', name: 'Lease-lock hoodie', price: 4900 },
]

export const productBySku = new Map(products.map((p) => [p.sku, p]))

/** The services behind the gateway, in the order they start. */
export const serviceNames = ['auth', 'cart', 'orders'] as const
export type ServiceName = (typeof serviceNames)[number]
