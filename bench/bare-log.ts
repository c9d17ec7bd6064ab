import { openDatabase, type Db } from '../hub/storage/database.js';
import type { ReadingRow } from '../hub/storage/types.js';

/**
 * The ceiling HubStore.commit() is measured against (bench/storage.ts): the same file settings and
 * schema as the store, and nothing but one prepared insert per reading into the rowid log, in one
 * transaction per batch. A benchmark baseline, not storage: it reaches SQLite through openDatabase(), so
 * better-sqlite3 is still imported by hub/storage alone.
 */
export class BareLog {
  readonly #path: string;
  #db: Db | undefined;
  #insert: ((rows: readonly ReadingRow[]) => void) | undefined;

  constructor(path: string) {
    this.#path = path;
  }

  open(): void {
    const db = openDatabase(this.#path);
    const stmt = db.prepare('INSERT INTO log (series, ts, value) VALUES (?, ?, ?)');
    this.#insert = db.transaction((rows: readonly ReadingRow[]) => {
      for (const r of rows) stmt.run(r.series, r.ts, r.value.type === 'bool' ? (r.value.value ? 1 : 0) : r.value.value);
    });
    this.#db = db;
  }

  /** Appends the readings in one transaction. */
  insert(rows: readonly ReadingRow[]): void {
    if (!this.#insert) throw new Error('BareLog is not open');
    this.#insert(rows);
  }

  close(): void {
    this.#db?.close();
    this.#db = undefined;
    this.#insert = undefined;
  }
}
