// Test support: the brute-force record of what a test committed, to check compaction against.
import type { ReadingRow } from '../types.js';

/** Per-series readings as [ts, value] sorted by (ts, value): the order-free form of "stored exactly once". */
export type ReadingsBySeries = Record<number, Array<[number, number | string]>>;
/** Rollup rows per table as `${series}/${bucket}` -> [min, max, sum, count]. */
export type RollupRows = Record<string, [number, number, number, number]>;

/** Every reading a test committed, to check compaction against by brute force. */
export class ReadingLedger {
  readonly #rows: ReadingRow[] = [];

  add(readings: readonly ReadingRow[]): void {
    this.#rows.push(...readings);
  }

  get size(): number {
    return this.#rows.length;
  }

  /** The committed readings of each series. */
  readings(): ReadingsBySeries {
    const out: ReadingsBySeries = {};
    for (const r of this.#rows) (out[r.series] ??= []).push([r.ts, r.value.type === 'bool' ? (r.value.value ? 1 : 0) : r.value.value]);
    for (const list of Object.values(out)) list.sort(comparePair);
    return out;
  }

  /** Rollups recomputed from scratch over numeric readings: what the rollup_<step> table must hold. */
  rollups(bucketMs: number): RollupRows {
    const out: RollupRows = {};
    for (const r of this.#rows) {
      if (r.value.type === 'string' || r.value.type === 'enum') continue;
      const x = r.value.type === 'bool' ? (r.value.value ? 1 : 0) : r.value.value;
      const key = `${r.series}/${r.ts - (r.ts % bucketMs)}`;
      const a = out[key];
      out[key] = a ? [Math.min(a[0], x), Math.max(a[1], x), a[2] + x, a[3] + 1] : [x, x, x, 1];
    }
    return out;
  }

  /** Newest ts per series (tests keep timestamps unique per series, so the value is unambiguous). */
  latestTs(): Record<number, number> {
    const out: Record<number, number> = {};
    for (const r of this.#rows) out[r.series] = Math.max(out[r.series] ?? -1, r.ts);
    return out;
  }
}

/** Orders [ts, value] pairs by ts, then value (a total order, as history sorts points). */
export function comparePair(a: [number, number | string], b: [number, number | string]): number {
  return a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);
}
