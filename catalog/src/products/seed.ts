// Deterministic seed data: the same 1,000 products on every machine, so a product id means the
// same thing in docs, tests and dashboards. A seeded PRNG drives the choices.

import { CATEGORIES } from '@shopstack/contracts/limits'
import type { Product } from '@shopstack/contracts/products'
import { mulberry32 } from '@shopstack/lib/random'

const ADJECTIVES = [
  'Classic',
  'Compact',
  'Deluxe',
  'Eco',
  'Ergonomic',
  'Handmade',
  'Lightweight',
  'Modern',
  'Organic',
  'Portable',
  'Premium',
  'Rugged',
  'Sleek',
  'Smart',
  'Vintage',
  'Wireless',
]
const NOUNS: Record<(typeof CATEGORIES)[number], string[]> = {
  books: ['Novel', 'Cookbook', 'Atlas', 'Field Guide', 'Anthology'],
  clothing: ['Jacket', 'Scarf', 'Sweater', 'Rain Coat', 'T-Shirt'],
  electronics: ['Headphones', 'Keyboard', 'Speaker', 'Charger', 'Monitor'],
  garden: ['Trowel', 'Planter', 'Hose', 'Seed Kit', 'Pruner'],
  grocery: ['Coffee Beans', 'Olive Oil', 'Green Tea', 'Honey', 'Pasta'],
  home: ['Lamp', 'Blanket', 'Clock', 'Mirror', 'Rug'],
  kitchen: ['Skillet', 'Knife Set', 'Kettle', 'Cutting Board', 'Mixer'],
  sports: ['Yoga Mat', 'Water Bottle', 'Tennis Racket', 'Backpack', 'Dumbbells'],
  toys: ['Puzzle', 'Kite', 'Robot Kit', 'Board Game', 'Plush Bear'],
  beauty: ['Face Cream', 'Shampoo', 'Lip Balm', 'Soap Bar', 'Perfume'],
}

export function generateProducts(count: number, seed = 20_260_101): Product[] {
  const random = mulberry32(seed)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T
  return Array.from({ length: count }, (_, index) => {
    const id = index + 1
    const category = CATEGORIES[index % CATEGORIES.length] as (typeof CATEGORIES)[number]
    const adjective = pick(ADJECTIVES)
    const noun = pick(NOUNS[category])
    return {
      id,
      sku: `${category.slice(0, 3).toUpperCase()}-${String(id).padStart(5, '0')}`,
      name: `${adjective} ${noun}`,
      description: `${adjective} ${noun.toLowerCase()} from the ShopStack ${category} range, item ${id}.`,
      category,
      price_cents: 199 + Math.floor(random() * 500) * 100 + pick([0, 49, 95, 99]),
      currency: 'USD',
    }
  })
}
