import type { Statement } from 'better-sqlite3';
import type { ValueType } from '../../protocol/types.js';
import type { Db } from './database.js';
import { fromNative, nativeSql, toNative, type Native } from './native-value.js';
import type { CommandLogEntry, CommandLogStatus, NewCommand } from './types.js';

interface CommandRow {
  id: number;
  device_id: string;
  command: string;
  value_type: ValueType;
  value: Native;
  source: string;
  sent_at: number;
  status: string | null;
  message: string | null;
  finished_at: number | null;
}

/** Every command sent to a device and how it ended. Built by HubStore.open() after migration. */
export class CommandLog {
  readonly #insert: Statement<[{ deviceId: string; command: string; type: ValueType; value: Native; source: string; sentAt: number }]>;
  readonly #finish: Statement<[string, string, number, number]>;
  readonly #list: Statement<[string, number], CommandRow>;

  constructor(db: Db) {
    this.#insert = db.prepare(
      `INSERT INTO commands (device_id, command, value_type, value, source, sent_at)
       VALUES (@deviceId, @command, @type, ${nativeSql('@value', '@type')}, @source, @sentAt)`,
    );
    this.#finish = db.prepare('UPDATE commands SET status = ?, message = ?, finished_at = ? WHERE id = ? AND status IS NULL');
    this.#list = db.prepare('SELECT * FROM commands WHERE device_id = ? ORDER BY id DESC LIMIT ?');
  }

  /** Stores a command about to be sent; returns its id (1, 2, 3, ... never reused, so it fits a varint). */
  log(c: NewCommand): number {
    const row = { deviceId: c.deviceId, command: c.command, type: c.value.type, value: toNative(c.value), source: c.source, sentAt: c.sentAt };
    return Number(this.#insert.run(row).lastInsertRowid);
  }

  /** Records how a command ended; false if it is unknown or already finished (the first outcome stands). */
  finish(id: number, status: CommandLogStatus, message: string, at: number): boolean {
    return this.#finish.run(status, message, at, id).changes === 1;
  }

  /** The newest `limit` commands of a device, newest first. */
  list(deviceId: string, limit: number): CommandLogEntry[] {
    return this.#list.all(deviceId, limit).map((r) => ({
      id: r.id,
      deviceId: r.device_id,
      command: r.command,
      value: fromNative(r.value_type, r.value),
      source: r.source,
      sentAt: r.sent_at,
      status: r.status,
      message: r.message,
      finishedAt: r.finished_at,
    }));
  }
}
