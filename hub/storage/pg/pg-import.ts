import type pg from 'pg';
import type { ExportedReading, Row, SqliteExport } from './sqlite-export.js';
import { dayOf } from './pg-partitions.js';
import type { PgStore } from './pg-store.js';

/** Tables `hearth migrate` copies besides readings, in foreign-key order, with their row counts after. */
export const COPIED_TABLES = ['devices', 'device_state', 'series', 'rollup_minute', 'rollup_hour', 'events', 'commands', 'firmware_images', 'firmware_updates'] as const;
export type CopiedTable = (typeof COPIED_TABLES)[number];

const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);
const txt = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** SQLite row -> PostgreSQL columns, per table: value columns split into num/txt, 0/1 flags into booleans. */
const MAP: Record<CopiedTable, (r: Row) => Row> = {
  devices: (r) => ({ ...r, updates: r.updates === 1 }),
  device_state: (r) => r,
  series: (r) => r,
  rollup_minute: (r) => r,
  rollup_hour: (r) => r,
  events: ({ value, ...r }) => ({ ...r, num: num(value), txt: txt(value) }),
  commands: ({ value, ...r }) => ({ ...r, num: num(value), txt: txt(value) }),
  firmware_images: (r) => r,
  firmware_updates: ({ offset, ...r }) => ({ ...r, '"offset"': offset, verified: r.verified === 1 }),
};

/** Identity columns whose sequence must continue after the copied ids (ids are never reused). */
const IDENTITIES: Array<['series' | 'commands' | 'firmware_updates' | 'events', string]> = [
  ['series', 'series'], ['events', 'events'], ['commands', 'commands'], ['firmware_updates', 'firmware_updates'],
];

/** Refuses to copy into a database that holds anything of Hearth's already. */
export async function targetProblem(pool: pg.Pool): Promise<string | undefined> {
  const { rows } = await pool.query<{ t: string; n: number }>(
    `SELECT 'devices' AS t, count(*) AS n FROM devices UNION ALL SELECT 'readings', count(*) FROM (SELECT 1 FROM readings LIMIT 1) r
     UNION ALL SELECT 'firmware_images', count(*) FROM firmware_images`,
  );
  const full = rows.filter((r) => r.n > 0).map((r) => r.t);
  return full.length > 0 ? `the target database is not empty (it has ${full.join(', ')}); migrate into a new, empty database` : undefined;
}

/** Copies every table but readings in one transaction, keeping ids; returns the rows copied per table. */
export async function copyTables(pool: pg.Pool, src: SqliteExport): Promise<Map<CopiedTable, number>> {
  const copied = new Map<CopiedTable, number>();
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    for (const table of COPIED_TABLES) {
      const rows = src.rows(table).map(MAP[table]);
      copied.set(table, rows.length);
      for (let i = 0; i < rows.length; i += 500) await insertRows(client, table, rows.slice(i, i + 500));
    }
    for (const [table, name] of IDENTITIES) {
      const next = src.highestId(table);
      if (next > 0) await client.query(`SELECT setval(pg_get_serial_sequence('${name}', 'id'), $1)`, [next]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
  return copied;
}

async function insertRows(client: pg.PoolClient, table: string, rows: Row[]): Promise<void> {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]!);
  const params: unknown[] = [];
  const tuples = rows.map((r) => `(${cols.map((c) => (params.push(r[c] ?? null), `$${params.length}`)).join(', ')})`);
  await client.query(`INSERT INTO ${table} (${cols.join(', ')}) OVERRIDING SYSTEM VALUE VALUES ${tuples.join(', ')}`, params);
}

/** Copies readings as they are stored (no rollup upserts: the rollups were copied); returns how many. */
export async function copyReadings(store: PgStore, batches: Iterable<ExportedReading[]>): Promise<number> {
  let n = 0;
  for (const batch of batches) {
    await store.ensurePartitions(new Set(batch.map((r) => dayOf(r.ts))));
    await store.pool.query('INSERT INTO readings (ts, num, series, txt) SELECT * FROM unnest($1::bigint[], $2::float8[], $3::int[], $4::text[])', [
      batch.map((r) => r.ts), batch.map((r) => num(r.value)), batch.map((r) => r.series), batch.map((r) => txt(r.value)),
    ]);
    n += batch.length;
  }
  return n;
}

/**
 * Marks every copied reading as rolled up (the copied rollups already hold them all: the source was
 * compacted): the watermark goes to the minute after the newest one, so history does not count them twice.
 */
export async function markRolledUp(pool: pg.Pool): Promise<void> {
  await pool.query(
    `UPDATE rollup_state SET watermark = coalesce((SELECT max(ts) - max(ts) % 60000 + 60000 FROM readings), 0) WHERE id = 1`,
  );
}

/** Readings per series id on PostgreSQL. */
export async function pgCountsPerSeries(pool: pg.Pool): Promise<Map<number, number>> {
  const { rows } = await pool.query<{ series: number; n: number }>('SELECT series, count(*) AS n FROM readings GROUP BY series');
  return new Map(rows.map((r) => [r.series, r.n]));
}

/** Rows per copied table on PostgreSQL. */
export async function pgTableCounts(pool: pg.Pool): Promise<Map<CopiedTable, number>> {
  const out = new Map<CopiedTable, number>();
  for (const t of COPIED_TABLES) out.set(t, (await pool.query<{ n: number }>(`SELECT count(*) AS n FROM ${t}`)).rows[0]!.n);
  return out;
}
