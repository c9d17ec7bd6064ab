import type { Statement, Transaction } from 'better-sqlite3';
import type { Db } from './database.js';
import type { EventLog } from './event-log.js';
import type { CommitBatch } from './types.js';

/**
 * The ingest hot path: one transaction appends a batch's readings to the log, its events, and each
 * device's seq and lastSeen, so an ACK sent after it covers readings and sequence state alike [FP-8.2]. Per reading it costs one prepared insert and nothing else: no JSON, no
 * index, no per-series upsert (series_latest and rollups are maintained by compaction instead).
 * Built by HubStore.open() after migration.
 */
export class CommitWriter {
  readonly #insertNative: Statement<[number, number, number | string]>;
  readonly #insertInt: Statement<[number, number, number]>;
  readonly #state: Statement<[string, number, number | null, string]>;
  readonly #seen: Statement<[string, number, string]>;
  readonly #events: EventLog;
  readonly #tx: Transaction<(batch: CommitBatch) => void>;

  constructor(db: Db, events: EventLog) {
    this.#events = events;
    this.#insertNative = db.prepare('INSERT INTO log (series, ts, value) VALUES (?, ?, ?)');
    // better-sqlite3 binds every JS number as REAL; the cast stores bool/int/enum as INTEGER.
    this.#insertInt = db.prepare('INSERT INTO log (series, ts, value) VALUES (?, ?, CAST(? AS INTEGER))');
    // WHERE EXISTS: a device removed while its readings waited for this commit is skipped, not allowed
    // to fail the batch of every other device (its log rows are dropped by compaction).
    this.#state = db.prepare(
      `INSERT INTO device_state (device_id, seq, last_seen) SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM devices WHERE id = ?)
       ON CONFLICT (device_id) DO UPDATE SET seq = excluded.seq, last_seen = coalesce(excluded.last_seen, last_seen)`,
    );
    this.#seen = db.prepare(
      `INSERT INTO device_state (device_id, seq, last_seen) SELECT ?, 0, ? WHERE EXISTS (SELECT 1 FROM devices WHERE id = ?)
       ON CONFLICT (device_id) DO UPDATE SET last_seen = excluded.last_seen`,
    );
    this.#tx = db.transaction((batch: CommitBatch) => this.apply(batch));
  }

  /** Writes the batch in one IMMEDIATE transaction: all of it or, on any error (thrown), none. */
  commit(batch: CommitBatch): void {
    this.#tx.immediate(batch);
  }

  /** Writes the batch inside the caller's transaction (the ingest journal's drain). */
  apply(batch: CommitBatch): void {
    const native = this.#insertNative;
    const int = this.#insertInt;
    for (const r of batch.readings) {
      const v = r.value;
      switch (v.type) {
        case 'float':
        case 'string':
          native.run(r.series, r.ts, v.value);
          break;
        case 'bool':
          int.run(r.series, r.ts, v.value ? 1 : 0);
          break;
        default:
          int.run(r.series, r.ts, v.value);
      }
    }
    for (const e of batch.events) this.#events.append(e);
    for (const [id, seq] of batch.seqs) this.#state.run(id, seq, batch.lastSeen.get(id) ?? null, id);
    for (const [id, at] of batch.lastSeen) if (!batch.seqs.has(id)) this.#seen.run(id, at, id);
  }
}
