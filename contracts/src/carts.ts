// Cart schemas: the single source of the Cart types, request validation and the OpenAPI document.
// The cart and the gateway both validate with these, so bad input is refused at the edge with the
// same message.

import { t } from 'elysia'
import { MAX_CART_ID_LENGTH, MAX_PRODUCT_ID, MAX_QUANTITY } from './limits.ts'
import { DecimalParam, StrictInteger } from './schemas.ts'

export const CartId = t.String({
  pattern: `^[A-Za-z0-9_-]{1,${MAX_CART_ID_LENGTH}}$`,
  description: '1 to 64 letters, digits, "-" or "_"',
  error: 'must be 1–64 letters, digits, - or _',
  examples: ['abc'],
})

export const AddToCart = t.Object(
  {
    cart_id: CartId,
    product_id: StrictInteger({ minimum: 1, maximum: MAX_PRODUCT_ID }),
    quantity: StrictInteger({ minimum: 1, maximum: MAX_QUANTITY, description: `1 to ${MAX_QUANTITY}` }),
  },
  { additionalProperties: false },
)
export type AddToCart = typeof AddToCart.static

export const CartParams = t.Object({ id: CartId })
export const CartLineParams = t.Object({
  id: CartId,
  product_id: DecimalParam({ maximum: MAX_PRODUCT_ID, description: 'Product id' }),
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
