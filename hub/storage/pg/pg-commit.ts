import type pg from 'pg';
import type { Value } from '../../../protocol/types.js';
import { aggregateSorted, BUCKET_MS, type Aggregate } from '../rollups.js';
import type { CommitBatch } from '../types.js';
import type { Fence } from '../store-contract.js';
import { FencedError } from './fenced-error.js';

export type { Fence } from '../store-contract.js';

/** The two columns a value is stored in: num (bool 0/1, int, enum index, float) or txt (string). */
export function valueColumns(v: Value): [num: number | null, txt: string | null] {
  switch (v.type) {
    case 'string':
      return [null, v.value];
    case 'bool':
      return [v.value ? 1 : 0, null];
    default:
      return [v.value, null];
  }
}

// unnest() of one array per column: one statement per table whatever the batch size. The series filter (a
// hash semi-join on the series table) drops rows of a device removed while they waited, as SQLite's
// compaction does, instead of leaving them behind without a series.
const INSERT_READINGS = `INSERT INTO readings (ts, num, series, txt)
  SELECT r.ts, r.num, r.series, r.txt FROM unnest($1::bigint[], $2::float8[], $3::int[], $4::text[]) AS r (ts, num, series, txt)
  WHERE EXISTS (SELECT 1 FROM series s WHERE s.id = r.series)`;
const INSERT_EVENTS = `INSERT INTO events (device_id, name, ts, value_type, num, txt)
  SELECT e.* FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::float8[], $6::text[]) AS e (device_id, name, ts, value_type, num, txt)
  WHERE EXISTS (SELECT 1 FROM devices WHERE id = e.device_id)`;
const UPSERT_STATE = `INSERT INTO device_state (device_id, seq, last_seen)
  SELECT s.* FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS s (device_id, seq, last_seen)
  WHERE EXISTS (SELECT 1 FROM devices WHERE id = s.device_id)
  ON CONFLICT (device_id) DO UPDATE SET seq = excluded.seq, last_seen = coalesce(excluded.last_seen, device_state.last_seen)`;
const UPSERT_SEEN = `INSERT INTO device_state (device_id, seq, last_seen)
  SELECT s.device_id, 0, s.last_seen FROM unnest($1::text[], $2::bigint[]) AS s (device_id, last_seen)
  WHERE EXISTS (SELECT 1 FROM devices WHERE id = s.device_id)
  ON CONFLICT (device_id) DO UPDATE SET last_seen = excluded.last_seen`;

function upsertRollup(table: 'rollup_minute' | 'rollup_hour'): string {
  return `INSERT INTO ${table} (series, bucket, min, max, sum, count)
  SELECT r.* FROM unnest($1::int[], $2::bigint[], $3::float8[], $4::float8[], $5::float8[], $6::bigint[]) AS r (series, bucket, min, max, sum, count)
  WHERE EXISTS (SELECT 1 FROM series s WHERE s.id = r.series)
  ON CONFLICT (series, bucket) DO UPDATE SET
    min = least(${table}.min, excluded.min), max = greatest(${table}.max, excluded.max),
    sum = ${table}.sum + excluded.sum, count = ${table}.count + excluded.count`;
}
const UPSERT_MINUTE = upsertRollup('rollup_minute');
const UPSERT_HOUR = upsertRollup('rollup_hour');

/**
 * Writes a batch on `client` in ONE transaction: fence check (row locks on device_owner), readings (and the
 * rollups of late ones, see rollup_state), events, seqs and lastSeen [FP-8.2]. Any error rolls all of it back and is
 * rethrown; a stale fence throws FencedError.
 */
export async function commitBatch(client: pg.PoolClient, batch: CommitBatch, fence?: Fence): Promise<void> {
  await client.query('BEGIN');
  try {
    if (fence && fence.size > 0 && (await checkFence(client, fence, batch))) {
      // Stored already: an earlier attempt committed, and its answer was lost with the connection (a
      // partition, a restart of the server). Writing it again would store it twice.
      await client.query('ROLLBACK');
      return;
    }
    await writeReadings(client, batch);
    if (batch.events.length > 0) {
      const cols: [string[], string[], number[], string[], (number | null)[], (string | null)[]] = [[], [], [], [], [], []];
      for (const e of batch.events) {
        const [num, txt] = valueColumns(e.value);
        cols[0].push(e.deviceId), cols[1].push(e.name), cols[2].push(e.ts), cols[3].push(e.value.type), cols[4].push(num), cols[5].push(txt);
      }
      await client.query(INSERT_EVENTS, cols);
    }
    // Sorted by device id: two commits touching the same devices lock their rows in the same order.
    const seqIds = [...batch.seqs.keys()].sort();
    if (seqIds.length > 0) {
      await client.query(UPSERT_STATE, [seqIds, seqIds.map((id) => batch.seqs.get(id)!), seqIds.map((id) => batch.lastSeen.get(id) ?? null)]);
    }
    const seenIds = [...batch.lastSeen.keys()].filter((id) => !batch.seqs.has(id)).sort();
    if (seenIds.length > 0) await client.query(UPSERT_SEEN, [seenIds, seenIds.map((id) => batch.lastSeen.get(id)!)]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * Throws FencedError for devices another hub claimed since; answers true when the batch is stored already:
 * every device of it has its batch seq committed. A batch commits whole or not at all, and under unchanged
 * epochs only this hub commits these devices, in batch order, so a stored seq at or past the batch's means
 * this very batch committed before.
 */
async function checkFence(client: pg.PoolClient, fence: Fence, batch: CommitBatch): Promise<boolean> {
  const ids = [...fence.keys()].sort();
  // FOR SHARE: a claim by another hub (an UPDATE of these rows) waits until this commit ends, so the epochs
  // read here stay current for the whole transaction.
  const { rows } = await client.query<{ device_id: string; epoch: number; seq: number | null }>(
    `SELECT o.device_id, o.epoch, s.seq FROM device_owner o LEFT JOIN device_state s ON s.device_id = o.device_id
     WHERE o.device_id = ANY ($1::text[]) ORDER BY o.device_id FOR SHARE OF o`,
    [ids],
  );
  const current = new Map(rows.map((r) => [r.device_id, Number(r.epoch)]));
  const stale = ids.filter((id) => current.get(id) !== fence.get(id));
  if (stale.length > 0) throw new FencedError(stale);
  if (batch.seqs.size === 0) return false;
  const stored = new Map(rows.map((r) => [r.device_id, r.seq === null ? 0 : Number(r.seq)]));
  for (const [id, seq] of batch.seqs) if (!stored.has(id) || stored.get(id)! < seq) return false;
  return true;
}

async function writeReadings(client: pg.PoolClient, batch: CommitBatch): Promise<void> {
  const n = batch.readings.length;
  if (n === 0) return;
  const ts = new Array<number>(n);
  const num = new Array<number | null>(n);
  const series = new Array<number>(n);
  const txt = new Array<string | null>(n);
  // FOR SHARE: rollupStep() (FOR UPDATE) cannot move the watermark past readings this commit has not
  // committed yet; readings below it are late and merged into the rollups here, the rest wait for the step.
  const { rows } = await client.query<{ watermark: number }>('SELECT watermark FROM rollup_state WHERE id = 1 FOR SHARE');
  const watermark = rows[0]!.watermark;
  // Late numeric readings per series, for the rollups (bool counts as 0/1, as SQLite's rollups do).
  const numeric = new Map<number, Array<[number, number]>>();
  for (let i = 0; i < n; i++) {
    const r = batch.readings[i]!;
    const [x, s] = valueColumns(r.value);
    ts[i] = r.ts;
    num[i] = x;
    series[i] = r.series;
    txt[i] = s;
    if (x !== null && r.ts < watermark && r.value.type !== 'enum') {
      let list = numeric.get(r.series);
      if (!list) numeric.set(r.series, (list = []));
      list.push([r.ts, x]);
    }
  }
  await client.query(INSERT_READINGS, [ts, num, series, txt]);
  const ids = [...numeric.keys()].sort((a, b) => a - b);
  if (ids.length === 0) return;
  for (const [step, sql] of [['minute', UPSERT_MINUTE], ['hour', UPSERT_HOUR]] as const) {
    const cols: [number[], number[], number[], number[], number[], number[]] = [[], [], [], [], [], []];
    for (const id of ids) {
      for (const a of aggregateOf(numeric.get(id)!, BUCKET_MS[step])) {
        cols[0].push(id), cols[1].push(a.bucket), cols[2].push(a.min), cols[3].push(a.max), cols[4].push(a.sum), cols[5].push(a.count);
      }
    }
    await client.query(sql, cols);
  }
}

function aggregateOf(points: Array<[number, number]>, bucketMs: number): Aggregate[] {
  points.sort((a, b) => a[0] - b[0]);
  return aggregateSorted(points.map((p) => p[0]), points.map((p) => p[1]), bucketMs);
}
