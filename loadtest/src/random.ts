// Seeded randomness for the load generator, so a run's traffic mix can be replayed with `--seed`
// and tests get the same decisions every time. Not for anything secret.

import { mulberry32 } from '@shopstack/lib/random'

export type Random = () => number

/** A function returning uniform floats in [0, 1), fully determined by the seed. */
export const createRandom: (seed: number) => Random = mulberry32

/** An integer in [min, max], both inclusive. */
export function randomInt(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1))
}

/** One of the items, with probability proportional to its weight. */
export function pickWeighted<T>(random: Random, items: readonly (readonly [T, number])[]): T {
  let total = 0
  for (const [, weight] of items) total += weight
  let roll = random() * total
  for (const [item, weight] of items) {
    roll -= weight
    if (roll < 0) return item
  }
  const last = items[items.length - 1]
  if (!last) throw new Error('pickWeighted needs at least one item')
  return last[0]
}
