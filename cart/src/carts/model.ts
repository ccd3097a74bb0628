// Cart schemas: the single source of the Cart types, request validation and the OpenAPI document.
// The gateway imports these too, so bad input is refused at the edge with the same message.

import { DecimalParam, StrictInteger } from '@shopstack/lib/schemas'
import { t } from 'elysia'

export const MAX_QUANTITY = 99
export const MAX_LINES = 100

export const CartId = t.String({
  pattern: '^[A-Za-z0-9_-]{1,64}$',
  description: '1 to 64 letters, digits, "-" or "_"',
  error: 'must be 1–64 letters, digits, - or _',
  examples: ['abc'],
})

const MAX_ID = 2_147_483_647

export const AddToCart = t.Object(
  {
    cart_id: CartId,
    product_id: StrictInteger({ minimum: 1, maximum: MAX_ID }),
    quantity: StrictInteger({ minimum: 1, maximum: MAX_QUANTITY, description: `1 to ${MAX_QUANTITY}` }),
  },
  { additionalProperties: false },
)
export type AddToCart = typeof AddToCart.static

export const CartParams = t.Object({ id: CartId })
export const CartLineParams = t.Object({
  id: CartId,
  product_id: DecimalParam({ maximum: MAX_ID, description: 'Product id' }),
})

export const CartLine = t.Object({
  product_id: t.Integer(),
  name: t.String(),
  unit_price_cents: t.Integer(),
  currency: t.String(),
  quantity: t.Integer(),
  line_total_cents: t.Integer(),
})
export type CartLine = typeof CartLine.static

export const Cart = t.Object({
  cart_id: t.String(),
  lines: t.Array(CartLine),
  item_count: t.Integer({ description: 'Sum of the quantities' }),
  total_cents: t.Integer(),
  currency: t.String(),
})
export type Cart = typeof Cart.static
