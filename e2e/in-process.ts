// The services built in process, for the tests of one service that need a real neighbour: the
// gateway's tests call a real catalog and cart, the cart's a real catalog. No service imports
// another (contracts/README.md; contracts/src/imports.test.ts checks it), so a service's test
// reaches its neighbours here, where the end-to-end tests compose the services anyway.

export { createApp as createCartApp } from '../cart/src/app.ts'
export { createCartStore } from '../cart/src/carts/store.ts'
export { createApp as createCatalogApp } from '../catalog/src/app.ts'
export { createProductStore } from '../catalog/src/products/store.ts'
