import type { Statement } from 'better-sqlite3';
import type { ValueType } from '../../protocol/types.js';
import type { Db } from './database.js';
import { fromNative, nativeSql, toNative, type Native } from './native-value.js';
import type { EventRow, StoredEvent } from './types.js';

/** Device events (discrete occurrences, not readings). Built by HubStore.open() after migration. */
export class EventLog {
  readonly #insert: Statement<[{ deviceId: string; name: string; ts: number; type: ValueType; value: Native }]>;
  readonly #list: Statement<[string, number, number, number], [string, number, ValueType, Native]>;

  constructor(db: Db) {
    // A removed device's events are dropped rather than failing the whole group commit (see CommitWriter).
    this.#insert = db.prepare(
      `INSERT INTO events (device_id, name, ts, value_type, value)
       SELECT @deviceId, @name, @ts, @type, ${nativeSql('@value', '@type')} WHERE EXISTS (SELECT 1 FROM devices WHERE id = @deviceId)`,
    );
    this.#list = db
      .prepare('SELECT name, ts, value_type, value FROM events WHERE device_id = ? AND ts BETWEEN ? AND ? ORDER BY ts DESC, id DESC LIMIT ?')
      .raw() as unknown as Statement<[string, number, number, number], [string, number, ValueType, Native]>;
  }

  /** Appends one event; call inside the commit's transaction. */
  append(e: EventRow): void {
    this.#insert.run({ deviceId: e.deviceId, name: e.name, ts: e.ts, type: e.value.type, value: toNative(e.value) });
  }

  /** Events of a device with ts in [from, to], newest first, at most `limit`. */
  list(deviceId: string, from: number, to: number, limit: number): StoredEvent[] {
    return this.#list.all(deviceId, from, to, limit).map(([name, ts, type, raw]) => ({ name, ts, value: fromNative(type, raw) }));
  }
}
