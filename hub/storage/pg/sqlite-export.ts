import type { Value, ValueType } from '../../../protocol/types.js';
import { decodeChunk } from '../chunk-codec.js';
import { openDatabase, type Db } from '../database.js';
import { HubStore } from '../hub-store.js';
import { JOURNAL_DEFAULTS } from '../journal/ingest-journal.js';
import { toNative } from '../native-value.js';

/** Rows of one table as SQLite holds them (snake_case columns), for `hearth migrate`. */
export type Row = Record<string, unknown>;

/** One reading in its stored form. */
export interface ExportedReading {
  series: number;
  ts: number;
  value: number | string;
}

/**
 * Reads a single-box SQLite database for `hearth migrate`: first compacts it completely through HubStore
 * (so every reading is in a chunk and every rollup is stored), then streams its tables row by row.
 * The hub must be stopped (the compaction writes).
 */
export class SqliteExport {
  readonly #db: Db;

  private constructor(db: Db) {
    this.#db = db;
  }

  /** Compacts `path` and opens it for reading; throws HUB_ERR_DB_TOO_NEW for a newer schema. */
  static open(path: string): SqliteExport {
    // The hub is stopped: what its journal holds goes in first (a crash may have left records there).
    const store = new HubStore({ path, journal: JOURNAL_DEFAULTS });
    store.open();
    try {
      while (store.compactStep() > 0);
    } finally {
      store.close();
    }
    return new SqliteExport(openDatabase(path));
  }

  close(): void {
    this.#db.close();
  }

  /** Every row of `table` (one of the copied tables), in id order where there is one. */
  rows(table: 'devices' | 'device_state' | 'series' | 'rollup_minute' | 'rollup_hour' | 'events' | 'commands' | 'firmware_images' | 'firmware_updates'): Row[] {
    return this.#db.prepare(`SELECT * FROM ${table}`).all() as Row[];
  }

  /** The AUTOINCREMENT high-water mark of `table` (ids never reused, even of deleted rows), 0 if none. */
  highestId(table: 'series' | 'commands' | 'firmware_updates' | 'events'): number {
    const seq = this.#db.prepare('SELECT seq FROM sqlite_sequence WHERE name = ?').pluck().get(table) as number | undefined;
    const max = this.#db.prepare(`SELECT coalesce(max(id), 0) FROM ${table}`).pluck().get() as number;
    return Math.max(seq ?? 0, max);
  }

  /** Every stored reading, chunk by chunk in (series, t_min) order, in batches of about `size`. */
  *readings(size = 20_000): Generator<ExportedReading[]> {
    let out: ExportedReading[] = [];
    const chunks = this.#db.prepare('SELECT series, data FROM chunks ORDER BY series, t_min').raw().iterate() as IterableIterator<[number, Uint8Array]>;
    for (const [series, data] of chunks) {
      const c = decodeChunk(data);
      for (let i = 0; i < c.ts.length; i++) out.push({ series, ts: c.ts[i]!, value: toNative(c.values[i]! as Value) });
      if (out.length >= size) yield out, (out = []);
    }
    // Compaction left the log empty unless rows of removed series remain; those have no series to copy into.
    const log = this.#db.prepare('SELECT l.series, l.ts, l.value FROM log l JOIN series s ON s.id = l.series').raw().iterate() as IterableIterator<[number, number, number | string]>;
    for (const [series, ts, value] of log) {
      out.push({ series, ts, value });
      if (out.length >= size) yield out, (out = []);
    }
    if (out.length > 0) yield out;
  }

  /** Readings per series id (chunks plus any log rows). */
  countsPerSeries(): Map<number, number> {
    const rows = this.#db
      .prepare(
        `SELECT s.id, coalesce((SELECT sum(n) FROM chunks WHERE series = s.id), 0) + (SELECT count(*) FROM log WHERE series = s.id) FROM series s`,
      )
      .raw()
      .all() as Array<[number, number]>;
    return new Map(rows);
  }

  /** Value type of every series, by id. */
  seriesTypes(): Map<number, ValueType> {
    return new Map((this.#db.prepare('SELECT id, value_type FROM series').raw().all() as Array<[number, ValueType]>));
  }
}
