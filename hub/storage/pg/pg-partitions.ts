import type pg from 'pg';
import { PARTITION_MS, SCHEMA_LOCK } from './pg-migrations.js';

/** `readings_d<day>`: day is the UTC day number (ts / PARTITION_MS), so the name alone gives its bounds. */
const NAME = /^readings_d(\d+)$/;

/** Partition day of a timestamp. */
export function dayOf(ts: number): number {
  return Math.floor(ts / PARTITION_MS);
}

/**
 * The day partitions of `readings`: created ahead of the readings that need them (a cache of the known
 * days avoids any query on the commit path once a day exists) and dropped whole by retention.
 */
export class PgPartitions {
  readonly #pool: pg.Pool;
  readonly #days = new Set<number>();

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  /** Loads the days that exist and creates today's and tomorrow's. */
  async open(now: number): Promise<void> {
    this.#days.clear();
    for (const day of await this.list()) this.#days.add(day);
    await this.ensure([dayOf(now), dayOf(now) + 1]);
  }

  /** Days with a partition, oldest first (from the catalogue). */
  async list(): Promise<number[]> {
    const { rows } = await this.#pool.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'readings'::regclass`,
    );
    return rows.map((r) => NAME.exec(r.name)).filter((m) => m !== null).map((m) => Number(m[1])).sort((a, b) => a - b);
  }

  /** Creates the partitions of `days` that this process has not seen; a no-op once they are known. */
  async ensure(days: Iterable<number>): Promise<void> {
    const missing = [...new Set(days)].filter((d) => !this.#days.has(d));
    if (missing.length === 0) return;
    const client = await this.#pool.connect();
    try {
      // One creator at a time across hubs (IF NOT EXISTS alone races on the catalogue), and its own
      // transaction: creating a partition locks the parent briefly, which no commit should hold.
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
      for (const d of missing) {
        await client.query(
          `CREATE TABLE IF NOT EXISTS readings_d${d} PARTITION OF readings FOR VALUES FROM (${d * PARTITION_MS}) TO (${(d + 1) * PARTITION_MS})`,
        );
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
    for (const d of missing) this.#days.add(d);
  }

  /** Drops at most `max` partitions whose every reading is older than `cut`; returns how many. */
  async dropBefore(cut: number, max: number): Promise<number> {
    const expired = (await this.list()).filter((d) => (d + 1) * PARTITION_MS <= cut).slice(0, max);
    for (const d of expired) {
      await this.#pool.query(`DROP TABLE IF EXISTS readings_d${d}`);
      this.#days.delete(d);
    }
    return expired.length;
  }

  /** Forgets the cache (after another process may have dropped partitions). */
  forget(day: number): void {
    this.#days.delete(day);
  }
}
