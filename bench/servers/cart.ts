// The session the `memory` scenario stores 10,000 times: a logged-in user with a small cart.
// Fresh objects per call, so no store can share them between sessions.
export interface LoggedIn {
  user: string
  principal: string
  cart: { currency: string; items: Array<{ sku: string; name: string; qty: number; price: number }> }
}

export function loggedIn(i: number): LoggedIn {
  return {
    user: `user${i}`,
    principal: `user:${i}`,
    cart: {
      currency: 'EUR',
      items: [
        { sku: 'SKU-10042', name: 'Coffee beans, 1 kg', qty: 1, price: 1899 },
        { sku: 'SKU-20417', name: 'Paper filters (100)', qty: 2, price: 349 },
        { sku: 'SKU-31008', name: 'Ceramic mug', qty: 1, price: 1250 },
      ],
    },
  }
}

/** `?u=<n>` of the `POST /login-cart` route (the memory scenario numbers its users). */
export const userNumber = (query: unknown): number => Number((query as { u?: string } | undefined)?.u ?? 0)
