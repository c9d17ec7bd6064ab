import type { Capability } from '../../../protocol/types.js';
import type { DeviceRecord } from '../types.js';

/** Each device with its last_seen (from device_state), in the columns of DeviceRow. */
export const SELECT_DEVICE = 'SELECT d.*, s.last_seen FROM devices d LEFT JOIN device_state s ON s.device_id = d.id';

/** A devices row as SELECT_DEVICE reads it. */
export interface DeviceRow {
  id: string;
  name: string;
  type: string;
  token_salt: string;
  token_hash: string;
  model: string;
  firmware: string;
  capabilities: Capability[];
  created_at: number;
  last_seen: number | null;
  revoked_at: number | null;
  room: string | null;
  updates: boolean;
}

/** The DeviceRecord of a row. */
export function toRecord(r: DeviceRow): DeviceRecord {
  return {
    id: r.id, name: r.name, type: r.type, tokenSalt: r.token_salt, tokenHash: r.token_hash, model: r.model, firmware: r.firmware,
    capabilities: r.capabilities, createdAt: r.created_at, lastSeen: r.last_seen, revokedAt: r.revoked_at, room: r.room,
    ...(r.updates ? { updates: true } : {}),
  };
}

/** The stored form (num or txt column) back as HistoryPoint's value: bool 0/1, enum index, as SQLite gives it. */
export const native = (num: number | null, txt: string | null): number | string => txt ?? num!;
