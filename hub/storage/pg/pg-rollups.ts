import type pg from 'pg';
import { BUCKET_MS, bucketOf, mergeAggregate, type Aggregate, type RollupStep } from '../rollups.js';
import type { HistoryPoint } from '../types.js';

function stepSql(table: 'rollup_minute' | 'rollup_hour', size: number): string {
  // Only series whose type is numeric now, and only rows stored as numbers (a retyped series keeps old rows).
  return `INSERT INTO ${table} (series, bucket, min, max, sum, count)
  SELECT r.series, r.ts - r.ts % ${size}, min(r.num), max(r.num), sum(r.num), count(*) FROM readings r
  WHERE r.ts >= $1 AND r.ts < $2 AND r.num IS NOT NULL
    AND EXISTS (SELECT 1 FROM series s WHERE s.id = r.series AND s.value_type IN ('bool', 'int', 'float'))
  GROUP BY 1, 2
  ON CONFLICT (series, bucket) DO UPDATE SET
    min = least(${table}.min, excluded.min), max = greatest(${table}.max, excluded.max),
    sum = ${table}.sum + excluded.sum, count = ${table}.count + excluded.count`;
}

/**
 * Aggregates the readings between the watermark and `upTo` (rounded down to a minute) into the minute and
 * hour rollups and moves the watermark there, in one transaction; returns the milliseconds it covered.
 */
export async function rollupStep(client: pg.PoolClient, upTo: number): Promise<number> {
  const to = bucketOf(Math.max(0, upTo), BUCKET_MS.minute);
  await client.query('BEGIN');
  try {
    // FOR UPDATE waits for commits in flight (they hold FOR SHARE); the statements below then see them.
    const { rows } = await client.query<{ watermark: number }>('SELECT watermark FROM rollup_state WHERE id = 1 FOR UPDATE');
    const from = rows[0]!.watermark;
    if (to <= from) {
      await client.query('COMMIT');
      return 0;
    }
    await client.query(stepSql('rollup_minute', BUCKET_MS.minute), [from, to]);
    await client.query(stepSql('rollup_hour', BUCKET_MS.hour), [from, to]);
    await client.query('UPDATE rollup_state SET watermark = $1 WHERE id = 1', [to]);
    await client.query('COMMIT');
    return to - from;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

type Row = { bucket: number; min: number; max: number; sum: number; count: number };

/**
 * The first `limit` buckets starting in [bucketOf(from), to] of one series: stored rollups merged with the
 * readings at or above the watermark, in ONE statement (one snapshot: a step committing meanwhile is
 * counted exactly once), as SQLite's Rollups.query merges its log.
 */
export async function rolledHistory(pool: pg.Pool, series: number, step: RollupStep, from: number, to: number, limit: number): Promise<HistoryPoint[]> {
  const size = BUCKET_MS[step];
  const first = bucketOf(Math.max(0, from), size);
  const last = bucketOf(to, size);
  const { rows } = await pool.query<Row>(
    `WITH w AS (SELECT watermark FROM rollup_state WHERE id = 1)
     (SELECT bucket, min, max, sum, count FROM rollup_${step} WHERE series = $1 AND bucket BETWEEN $2 AND $3 ORDER BY bucket LIMIT $4)
     UNION ALL
     SELECT r.ts - r.ts % ${size}, min(r.num), max(r.num), sum(r.num), count(*) FROM readings r, w
     WHERE r.series = $1 AND r.ts >= greatest(w.watermark, $2) AND r.ts < $3 + ${size} AND r.num IS NOT NULL GROUP BY 1`,
    [series, first, last, limit],
  );
  const byBucket = new Map<number, Aggregate>();
  for (const r of rows) {
    const a: Aggregate = { bucket: r.bucket, min: r.min, max: r.max, sum: r.sum, count: r.count };
    const stored = byBucket.get(a.bucket);
    byBucket.set(a.bucket, stored ? mergeAggregate(stored, a) : a);
  }
  const buckets = [...byBucket.values()].sort((a, b) => a.bucket - b.bucket).slice(0, limit);
  return buckets.map((a) => ({ ts: a.bucket, min: a.min, max: a.max, mean: a.sum / a.count, count: a.count }));
}
