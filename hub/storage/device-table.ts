import type { Statement } from 'better-sqlite3';
import type { Capability } from '../../protocol/types.js';
import type { Db } from './database.js';
import { StoreError } from './errors.js';
import type { DeviceHello, DeviceRecord, NewDevice } from './types.js';

interface DeviceRow {
  id: string;
  name: string;
  type: string;
  token_salt: string;
  token_hash: string;
  model: string;
  firmware: string;
  capabilities: string;
  created_at: number;
  last_seen: number | null;
  revoked_at: number | null;
  room: string | null;
  updates: number;
}

const SELECT_DEVICE = `SELECT d.*, s.last_seen FROM devices d LEFT JOIN device_state s ON s.device_id = d.id`;

/** Provisioned devices and their committed sequence state. Built by HubStore.open() after migration. */
export class DeviceTable {
  readonly #insert: Statement<[string, string, string, string, string, number]>;
  readonly #get: Statement<[string], DeviceRow>;
  readonly #list: Statement<[], DeviceRow>;
  readonly #revoke: Statement<[number, string]>;
  readonly #remove: Statement<[string]>;
  readonly #hello: Statement<[string, string, string, number, string]>;
  readonly #rename: Statement<[string, string]>;
  readonly #room: Statement<[string | null, string]>;
  readonly #seqs: Statement<[], [string, number]>;
  readonly #seq: Statement<[string], number>;

  constructor(db: Db) {
    this.#insert = db.prepare('INSERT INTO devices (id, name, type, token_salt, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)');
    this.#get = db.prepare(`${SELECT_DEVICE} WHERE d.id = ?`);
    this.#list = db.prepare(`${SELECT_DEVICE} ORDER BY d.id`);
    this.#revoke = db.prepare('UPDATE devices SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
    this.#remove = db.prepare('DELETE FROM devices WHERE id = ?');
    this.#hello = db.prepare('UPDATE devices SET model = ?, firmware = ?, capabilities = ?, updates = ? WHERE id = ?');
    this.#rename = db.prepare('UPDATE devices SET name = ? WHERE id = ?');
    this.#room = db.prepare('UPDATE devices SET room = ? WHERE id = ?');
    this.#seqs = db
      .prepare('SELECT d.id, coalesce(s.seq, 0) FROM devices d LEFT JOIN device_state s ON s.device_id = d.id')
      .raw() as unknown as Statement<[], [string, number]>;
    this.#seq = db.prepare('SELECT seq FROM device_state WHERE device_id = ?').pluck() as unknown as Statement<[string], number>;
  }

  /** Throws StoreError HUB_ERR_DEVICE_EXISTS if the id is taken, even by a revoked device. */
  add(d: NewDevice): void {
    try {
      this.#insert.run(d.id, d.name, d.type, d.tokenSalt, d.tokenHash, d.createdAt);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new StoreError('HUB_ERR_DEVICE_EXISTS', `device "${d.id}" already exists`, { cause: err });
      }
      throw err;
    }
  }

  get(id: string): DeviceRecord | undefined {
    const row = this.#get.get(id);
    return row ? toRecord(row) : undefined;
  }

  list(): DeviceRecord[] {
    return this.#list.all().map(toRecord);
  }

  /** False if the device is unknown or already revoked. */
  revoke(id: string, at: number): boolean {
    return this.#revoke.run(at, id).changes === 1;
  }

  /** Deletes the device row; foreign keys cascade to its series, chunks, rollups, events and commands. */
  remove(id: string): boolean {
    return this.#remove.run(id).changes === 1;
  }

  /** False if the device is unknown. */
  updateHello(id: string, hello: DeviceHello): boolean {
    return this.#hello.run(hello.model, hello.firmware, JSON.stringify(hello.capabilities), hello.updates === true ? 1 : 0, id).changes === 1;
  }

  /** False if the device is unknown. */
  rename(id: string, name: string): boolean {
    return this.#rename.run(name, id).changes === 1;
  }

  /** Sets or clears (null) the room; false if the device is unknown. */
  setRoom(id: string, room: string | null): boolean {
    return this.#room.run(room, id).changes === 1;
  }

  /** Highest committed seq of every device (0 if none yet). */
  committedSeqs(): Map<string, number> {
    return new Map(this.#seqs.all());
  }

  committedSeq(id: string): number {
    return this.#seq.get(id) ?? 0;
  }
}

function toRecord(r: DeviceRow): DeviceRecord {
  return {
    id: r.id,
    name: r.name,
    type: r.type,
    tokenSalt: r.token_salt,
    tokenHash: r.token_hash,
    model: r.model,
    firmware: r.firmware,
    capabilities: JSON.parse(r.capabilities) as Capability[],
    createdAt: r.created_at,
    lastSeen: r.last_seen,
    revokedAt: r.revoked_at,
    room: r.room,
    ...(r.updates === 1 ? { updates: true } : {}),
  };
}
