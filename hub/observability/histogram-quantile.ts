import type { HistogramSnapshot } from './metrics-registry.js';

/**
 * The q-quantile (0 < q <= 1) of the observations between snapshot `before` (null: since the start) and
 * `after` of the same histogram, or null when there were none. As Prometheus' histogram_quantile: linear
 * within the bucket it falls in (the first bucket starts at 0), and the largest finite bound when it falls
 * in +Inf; so the answer is as fine as the buckets, no finer.
 */
export function histogramQuantile(q: number, after: HistogramSnapshot, before: HistogramSnapshot | null = null): number | null {
  const { bounds } = after;
  const counts = after.counts.map((c, i) => c - (before?.counts[i] ?? 0));
  const total = counts.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const inBucket = counts[i]!;
    if (below + inBucket >= rank && inBucket > 0) {
      if (i === bounds.length) return bounds.at(-1)!;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      return lower + (bounds[i]! - lower) * ((rank - below) / inBucket);
    }
    below += inBucket;
  }
  return bounds.at(-1)!;
}
