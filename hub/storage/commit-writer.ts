import type { Statement, Transaction } from 'better-sqlite3';
import type { Db } from './database.js';
import type { EventLog } from './event-log.js';
import type { CommitBatch } from './types.js';

/**
 * The ingest hot path: one transaction appends a batch's readings to the log, its events, and each
 * device's seq and lastSeen, so an ACK sent after it covers readings and sequence state alike [FP-8.2]. Per reading it costs one prepared insert and nothing else: no JSON, no
 * index, no per-series upsert (series_latest and rollups are maintained by compaction instead).
 * A device's seq and lastSeen go into the log too, as a state row (series -devices.rowid, ts the lastSeen,
 * value the seq), not into device_state: updating device_state rows rewrote one of its pages per
 * few hundred devices on every commit (7 WAL pages of 4 KiB for 1,000 devices, flash wear, issue #17),
 * while a state row lands on the log page the readings fill anyway. Compaction folds state rows into
 * device_state; readers take the larger of both (DeviceTable). Built by HubStore.open() after migration.
 */
export class CommitWriter {
  readonly #insertNative: Statement<[number, number, number | string]>;
  readonly #insertInt: Statement<[number, number, number]>;
  readonly #state: Statement<[number, number, number, string]>;
  readonly #events: EventLog;
  readonly #tx: Transaction<(batch: CommitBatch) => void>;

  constructor(db: Db, events: EventLog) {
    this.#events = events;
    this.#insertNative = db.prepare('INSERT INTO log (series, ts, value) VALUES (?, ?, ?)');
    // better-sqlite3 binds every JS number as REAL; the cast stores bool/int/enum as INTEGER.
    this.#insertInt = db.prepare('INSERT INTO log (series, ts, value) VALUES (?, ?, CAST(? AS INTEGER))');
    // FROM devices: a device removed while its readings waited for this commit gets no state row, and
    // does not fail the batch of every other device (its log rows are dropped by compaction).
    // A seq outside [0, 2^53-1] becomes NULL, which log.value's NOT NULL refuses: the CHECK device_state
    // holds for seqs [FP-4.1], failing the whole batch as it did there.
    this.#state = db.prepare(
      'INSERT INTO log (series, ts, value) SELECT -rowid, ?, iif(? BETWEEN 0 AND 9007199254740991, CAST(? AS INTEGER), NULL) FROM devices WHERE id = ?',
    );
    this.#tx = db.transaction((batch: CommitBatch) => this.#write(batch));
  }

  /** Writes the batch in one IMMEDIATE transaction: all of it or, on any error (thrown), none. */
  commit(batch: CommitBatch): void {
    this.#tx.immediate(batch);
  }

  #write(batch: CommitBatch): void {
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
    // ts 0: no lastSeen in this batch (readers treat a state row's ts 0 as unknown); seq 0: lastSeen only.
    for (const [id, seq] of batch.seqs) this.#state.run(batch.lastSeen.get(id) ?? 0, seq, seq, id);
    for (const [id, at] of batch.lastSeen) if (!batch.seqs.has(id)) this.#state.run(at, 0, 0, id);
  }
}
