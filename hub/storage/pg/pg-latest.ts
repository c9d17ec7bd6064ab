import type pg from 'pg';
import type { ValueType } from '../../../protocol/types.js';
import { fromNative } from '../native-value.js';
import type { LatestValue } from '../types.js';
import { native } from './pg-rows.js';

/**
 * The horizon of a read, taken in the read's own statement (so of its snapshot): the oldest transaction
 * still running then. Every transaction below it had ended, so rows stamped `changed >= horizon` (migrations
 * 7 and 8) include every change the read did not see, even one whose transaction began before others that
 * committed first; some rows it did see come again.
 */
export const HORIZON = 'pg_snapshot_xmin(pg_current_snapshot())::text';

/**
 * The latest value of every series `where` selects (SQL on series `s`, with `params`), by device and then
 * metric in byte order, with the horizon of the same snapshot: one index probe per series.
 */
export async function readLatest(
  db: Pick<pg.Pool, 'query'>,
  where: string,
  params: unknown[],
): Promise<{ latest: Map<string, LatestValue[]>; horizon: string }> {
  type Row = { horizon: string; device_id: string | null; metric: string; value_type: ValueType; ts: number; num: number | null; txt: string | null };
  const { rows } = await db.query<Row>(
    `SELECT ${HORIZON} AS horizon, v.* FROM (SELECT) AS h LEFT JOIN (
       SELECT s.device_id, s.metric, s.value_type, r.ts, r.num, r.txt FROM series s
       CROSS JOIN LATERAL (SELECT ts, num, txt FROM readings WHERE series = s.id ORDER BY ts DESC LIMIT 1) r
       WHERE ${where}
     ) AS v ON true
     ORDER BY v.device_id COLLATE "C", v.metric COLLATE "C"`,
    params,
  );
  const latest = new Map<string, LatestValue[]>();
  for (const r of rows) {
    if (r.device_id === null) continue;
    let list = latest.get(r.device_id);
    if (!list) latest.set(r.device_id, (list = []));
    list.push({ metric: r.metric, ts: r.ts, value: fromNative(r.value_type, native(r.num, r.txt)) });
  }
  return { latest, horizon: rows[0]!.horizon };
}
