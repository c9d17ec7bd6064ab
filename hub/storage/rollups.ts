import type { Statement } from 'better-sqlite3';
import type { Db } from './database.js';
import type { HistoryPoint } from './types.js';

export type RollupStep = 'minute' | 'hour';

/** Bucket width of each rollup table. */
export const BUCKET_MS: Record<RollupStep, number> = { minute: 60_000, hour: 3_600_000 };

/** min, max, sum and count of the readings of one bucket. */
export interface Aggregate {
  bucket: number;
  min: number;
  max: number;
  sum: number;
  count: number;
}

/** Start of the bucket holding `ts` (ts >= 0). */
export function bucketOf(ts: number, bucketMs: number): number {
  return ts - (ts % bucketMs);
}

/** Aggregates readings sorted by ts into consecutive buckets, in bucket order. */
export function aggregateSorted(ts: readonly number[], nums: readonly number[], bucketMs: number): Aggregate[] {
  const out: Aggregate[] = [];
  let cur: Aggregate | undefined;
  for (let i = 0; i < ts.length; i++) {
    const bucket = bucketOf(ts[i]!, bucketMs);
    const x = nums[i]!;
    if (cur === undefined || cur.bucket !== bucket) {
      cur = { bucket, min: x, max: x, sum: x, count: 1 };
      out.push(cur);
    } else {
      if (x < cur.min) cur.min = x;
      if (x > cur.max) cur.max = x;
      cur.sum += x;
      cur.count += 1;
    }
  }
  return out;
}

/** Combines two aggregates of the same bucket. */
export function mergeAggregate(a: Aggregate, b: Aggregate): Aggregate {
  return { bucket: a.bucket, min: Math.min(a.min, b.min), max: Math.max(a.max, b.max), sum: a.sum + b.sum, count: a.count + b.count };
}

type Row = [bucket: number, min: number, max: number, sum: number, count: number];

interface StepStatements {
  merge: Statement<[number, number, number, number, number, number]>;
  select: Statement<[number, number, number, number], Row>;
  selectLog: Statement<[number, number, number], Row>;
}

/**
 * The per-minute and per-hour rollup tables of numeric series: merged incrementally from newly compacted
 * readings only, read back together with the log tail so a reading counts the moment it is committed.
 */
export class Rollups {
  readonly #steps: Record<RollupStep, StepStatements>;

  constructor(db: Db) {
    this.#steps = { minute: prepareStep(db, 'rollup_minute', BUCKET_MS.minute), hour: prepareStep(db, 'rollup_hour', BUCKET_MS.hour) };
  }

  /** Merges aggregates computed elsewhere (compaction's plan, see CompactionPass) into one table: one upsert each. */
  merge(series: number, step: RollupStep, aggregates: readonly Aggregate[]): void {
    const { merge } = this.#steps[step];
    for (const a of aggregates) merge.run(series, a.bucket, a.min, a.max, a.sum, a.count);
  }

  /**
   * The first `limit` buckets whose start lies in [bucketOf(from), to], each { ts: bucket start, min,
   * max, mean, count }, stored rollups merged with the readings of those buckets still in the log.
   */
  query(series: number, step: RollupStep, from: number, to: number, limit: number): HistoryPoint[] {
    const size = BUCKET_MS[step];
    const first = bucketOf(Math.max(0, from), size);
    const last = bucketOf(to, size);
    const s = this.#steps[step];
    const byBucket = new Map<number, Aggregate>();
    for (const r of s.select.all(series, first, last, limit)) byBucket.set(r[0], toAggregate(r));
    // The log holds at most a few seconds of readings, so scanning it here is cheap (see the log table).
    for (const r of s.selectLog.all(series, first, last + size)) {
      const a = toAggregate(r);
      const stored = byBucket.get(a.bucket);
      byBucket.set(a.bucket, stored ? mergeAggregate(stored, a) : a);
    }
    const buckets = [...byBucket.values()].sort((a, b) => a.bucket - b.bucket);
    if (buckets.length > limit) buckets.length = limit;
    return buckets.map((a) => ({ ts: a.bucket, min: a.min, max: a.max, mean: a.sum / a.count, count: a.count }));
  }
}

function toAggregate(r: Row): Aggregate {
  return { bucket: r[0], min: r[1], max: r[2], sum: r[3], count: r[4] };
}

function prepareStep(db: Db, table: 'rollup_minute' | 'rollup_hour', size: number): StepStatements {
  return {
    merge: db.prepare(
      `INSERT INTO ${table} (series, bucket, min, max, sum, count) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (bucket, series) DO UPDATE SET
         min = min(${table}.min, excluded.min), max = max(${table}.max, excluded.max),
         sum = ${table}.sum + excluded.sum, count = ${table}.count + excluded.count`,
    ),
    select: db
      .prepare(rollupRangeSql(table))
      .raw() as unknown as Statement<[number, number, number, number], Row>,
    // ts and the literal size are INTEGER, so ts / size divides as integers: the bucket start.
    selectLog: db
      .prepare(
        `SELECT ts / ${size} * ${size} AS bucket, min(value), max(value), total(value), count(*) FROM log
         WHERE series = ? AND ts >= ? AND ts < ? GROUP BY bucket`,
      )
      .raw() as unknown as Statement<[number, number, number], Row>,
  };
}

/** The rollup range query (exported for the migration test's EXPLAIN QUERY PLAN). */
export function rollupRangeSql(table: 'rollup_minute' | 'rollup_hour'): string {
  return `SELECT bucket, min, max, sum, count FROM ${table} WHERE series = ? AND bucket BETWEEN ? AND ? ORDER BY bucket LIMIT ?`;
}
