// The public API's limits and vocabulary, each written once: the schemas state them (so the
// OpenAPI document does), the stores enforce the ones a schema cannot, and the load generator
// stays inside them. Plain constants, importing nothing, so a load run does not load Elysia.

/** The product categories, in the catalog's seeding order. */
export const CATEGORIES = [
  'books',
  'clothing',
  'electronics',
  'garden',
  'grocery',
  'home',
  'kitchen',
  'sports',
  'toys',
  'beauty',
] as const

/** Products per page at most (`page_size`). */
export const MAX_PAGE_SIZE = 100
/** Pages at most (`page`). */
export const MAX_PAGE = 100_000
/** The largest product id: a 32-bit signed integer, as the SQLite store and the original had it. */
export const MAX_PRODUCT_ID = 2_147_483_647
/** Units of one product a cart holds at most. */
export const MAX_QUANTITY = 99
/** Different products a cart holds at most. */
export const MAX_LINES = 100
/** Cart ids: 1 to this many letters, digits, `-` or `_`. */
export const MAX_CART_ID_LENGTH = 64
/** `Idempotency-Key`: 1 to this many visible ASCII characters. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255
/** The default of MAX_BODY_BYTES: the largest request body. */
export const DEFAULT_MAX_BODY_BYTES = 16_384
