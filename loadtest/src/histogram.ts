// A log-linear latency histogram in the spirit of HdrHistogram: values are kept in microseconds,
// exactly below 256 µs and above that in 128 linear sub-buckets per power of two. Recording is
// O(1) (one clz32, one shift, one increment) and memory is fixed (3,328 counters), whatever the
// number of samples; any percentile is off by at most 1/256 (0.39 %) of the true value, because
// a bucket is reported by its midpoint and is never wider than 1/128 of its lower bound.

const SUB_BUCKET_BITS = 7
const SUB_BUCKETS = 1 << SUB_BUCKET_BITS
/** Values at or above 2^31 µs (about 36 minutes) are clamped into the last bucket. */
const MAX_MICROS = 2 ** 31 - 1
const BUCKETS = (31 - SUB_BUCKET_BITS + 2) * SUB_BUCKETS

function indexOf(micros: number): number {
  if (micros < 2 * SUB_BUCKETS) return micros
  const shift = 31 - Math.clz32(micros) - SUB_BUCKET_BITS
  return shift * SUB_BUCKETS + (micros >>> shift)
}

/** The midpoint of a bucket, in microseconds. */
function midpointOf(index: number): number {
  if (index < 2 * SUB_BUCKETS) return index
  const shift = Math.floor(index / SUB_BUCKETS) - 1
  const low = (index - shift * SUB_BUCKETS) * 2 ** shift
  return low + (2 ** shift - 1) / 2
}

export class Histogram {
  readonly counts = new Float64Array(BUCKETS)
  count = 0
  sumMs = 0
  minMs = Number.POSITIVE_INFINITY
  maxMs = 0

  /** Record one latency in milliseconds. */
  record(ms: number): void {
    const value = Math.max(ms, 0)
    let micros = Math.round(value * 1000)
    if (micros > MAX_MICROS) micros = MAX_MICROS
    const index = indexOf(micros)
    this.counts[index] = (this.counts[index] as number) + 1
    this.count++
    this.sumMs += value
    if (value < this.minMs) this.minMs = value
    if (value > this.maxMs) this.maxMs = value
  }

  /** The latency (ms) at quantile q in [0, 1]; 0 when nothing was recorded. */
  percentile(q: number): number {
    if (this.count === 0) return 0
    if (q <= 0) return this.minMs
    if (q >= 1) return this.maxMs
    const rank = Math.max(1, Math.ceil(q * this.count))
    let seen = 0
    const counts = this.counts
    for (let index = 0; index < BUCKETS; index++) {
      seen += counts[index] ?? 0
      if (seen >= rank) return Math.min(this.maxMs, Math.max(this.minMs, midpointOf(index) / 1000))
    }
    return this.maxMs
  }

  get meanMs(): number {
    return this.count === 0 ? 0 : this.sumMs / this.count
  }

  /** Add another histogram's samples to this one. */
  add(other: Histogram): this {
    if (other.count === 0) return this
    const counts = this.counts
    const theirs = other.counts
    for (let index = 0; index < BUCKETS; index++) counts[index] = (counts[index] ?? 0) + (theirs[index] ?? 0)
    this.count += other.count
    this.sumMs += other.sumMs
    this.minMs = Math.min(this.minMs, other.minMs)
    this.maxMs = Math.max(this.maxMs, other.maxMs)
    return this
  }

  reset(): void {
    if (this.count === 0) return
    this.counts.fill(0)
    this.count = 0
    this.sumMs = 0
    this.minMs = Number.POSITIVE_INFINITY
    this.maxMs = 0
  }
}
