// ACK latencies of 10,000 devices cannot be kept sample by sample; a log-bucketed histogram (about 5%
// relative resolution, 1 KB, allocated on the first sample) gives p50/p99 and merges across devices.

const GROWTH = 1.05;
const LOG_GROWTH = Math.log(GROWTH);
/** Covers 0 ms to past 10 minutes. */
const BUCKETS = 280;

/** Counts of latencies (ms) in logarithmic buckets; percentiles are reported as the bucket's upper edge. */
export class LatencyHistogram {
  #counts: Uint32Array | null = null;
  #count = 0;
  #max = 0;

  get count(): number {
    return this.#count;
  }

  get max(): number {
    return this.#max;
  }

  /** Adds one latency sample in milliseconds. */
  record(ms: number): void {
    const v = Math.max(0, ms);
    this.#counts ??= new Uint32Array(BUCKETS);
    this.#counts[bucketOf(v)]!++;
    this.#count++;
    if (v > this.#max) this.#max = v;
  }

  /** Adds every sample of `other` to this one. */
  merge(other: LatencyHistogram): void {
    const theirs = other.#counts;
    if (theirs === null) return;
    this.#counts ??= new Uint32Array(BUCKETS);
    for (let i = 0; i < BUCKETS; i++) this.#counts[i]! += theirs[i]!;
    this.#count += other.#count;
    this.#max = Math.max(this.#max, other.#max);
  }

  /** The q-quantile (0 < q <= 1) in ms, never above the largest sample; null without samples. */
  quantile(q: number): number | null {
    if (this.#counts === null || this.#count === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return Math.min(this.#max, upperEdge(i));
    }
    return this.#max;
  }
}

function bucketOf(ms: number): number {
  return Math.min(BUCKETS - 1, Math.floor(Math.log1p(ms) / LOG_GROWTH));
}

function upperEdge(bucket: number): number {
  return Math.expm1((bucket + 1) * LOG_GROWTH);
}
