import type { Capability, Value } from '../../protocol/types.js';
import type { JournalSettings } from './journal/ingest-journal.js';

/** A provisioned device as stored. Tokens are never stored, only a salted hash. */
export interface DeviceRecord {
  id: string;
  name: string;
  type: string;
  tokenSalt: string;
  tokenHash: string;
  model: string;
  firmware: string;
  capabilities: Capability[];
  createdAt: number;
  lastSeen: number | null;
  revokedAt: number | null;
  /** Its last HELLO set UPDATES: it accepts firmware updates [FP-14.1]. */
  updates?: boolean;
  /** Where the device is (Home Assistant's suggested_area); null until set. */
  room: string | null;
}

export interface NewDevice {
  id: string;
  name: string;
  type: string;
  tokenSalt: string;
  tokenHash: string;
  createdAt: number;
}

/** One value to store; `series` comes from HubStore.seriesId(). */
export interface ReadingRow {
  series: number;
  ts: number;
  value: Value;
}

export interface EventRow {
  deviceId: string;
  name: string;
  ts: number;
  value: Value;
}

/** Everything one group commit writes, in one transaction. */
export interface CommitBatch {
  readings: ReadingRow[];
  events: EventRow[];
  /** Highest accepted sequence per device; stored in the same transaction as the readings. */
  seqs: Map<string, number>;
  /** Last frame time per device. */
  lastSeen: Map<string, number>;
}

export type HistoryStep = 'raw' | 'minute' | 'hour';

export interface HistoryPoint {
  ts: number;
  /**
   * Raw points: the value in its stored form, as the log holds it (bool 0/1, enum index; see native-value.ts).
   * Its JSON form (bool true/false, enum by name) is protocol/value-form.ts's pointToJson.
   */
  value?: number | string;
  /** Rolled-up points (numeric series only). */
  min?: number;
  max?: number;
  mean?: number;
  count?: number;
}

export interface HistoryQuery {
  deviceId: string;
  metric: string;
  from: number;
  to: number;
  step: HistoryStep;
  limit: number;
}

export interface StoredEvent {
  name: string;
  ts: number;
  value: Value;
}

export interface CommandLogEntry {
  id: number;
  deviceId: string;
  command: string;
  value: Value;
  source: string;
  sentAt: number;
  status: string | null;
  message: string | null;
  finishedAt: number | null;
}

export interface StoreStats {
  /** Size of the database file plus its WAL, in bytes. */
  bytes: number;
  /** Readings in the log not yet moved into chunks. */
  pendingLogRows: number;
  chunks: number;
  storedReadings: number;
  /**
   * SQLite with the ingest journal: readings and records not yet drained into the database, the journal files'
   * bytes (counted in `bytes` too), and why the last drain failed (null when it did not).
   */
  journal?: { readings: number; records: number; bytes: number; drainError: string | null };
}

export interface RetentionPolicy {
  /** Raw readings (chunks) older than this are deleted. Default 30 days. */
  rawMs: number;
  /** Minute and hour rollups older than this are deleted. Default 365 days. */
  rollupMs: number;
}

/** SQLite `synchronous`: NORMAL survives a process crash (what "ack after commit" needs), FULL also power loss. */
export type SynchronousMode = 'NORMAL' | 'FULL';

export interface HubStoreOptions {
  /** Database file; its directory is created on open(). */
  path: string;
  /** Defaults: raw 30 days, rollups 365 days. */
  retention?: Partial<RetentionPolicy>;
  /** Clock for retention cut-offs; Date.now by default. */
  now?: () => number;
  synchronous?: SynchronousMode;
  /** busy_timeout of the store's connection (default 5000 ms; the hub uses HUB_BUSY_TIMEOUT_MS). */
  busyTimeoutMs?: number;
  /** Bound of the WAL file, bytes (config `db.maxWalBytes`, default 64 MiB). */
  maxWalBytes?: number;
  /**
   * Group commits go to the ingest journal beside the file and into the database in large drains (config
   * `ingest.journal*`; journal/ingest-journal.ts). Only the process that owns the database (the hub, or a
   * tool that runs while it is stopped) may set this: it replays and deletes the journal's files. Unset: every
   * commit is its own SQLite transaction.
   */
  journal?: JournalSettings;
}

/** What a HELLO tells the hub about a device. */
export interface DeviceHello {
  model: string;
  firmware: string;
  capabilities: Capability[];
  /** HELLO's flag UPDATES [FP-14.1]. */
  updates?: boolean;
}

/** The newest stored value of one metric of a device. */
export interface LatestValue {
  metric: string;
  ts: number;
  value: Value;
}

/** How a logged command ended: the device's status, or the hub's when the device never answered. */
export const COMMAND_LOG_STATUSES = ['ok', 'invalid', 'failed', 'unsupported', 'busy', 'offline', 'timeout'] as const;
export type CommandLogStatus = (typeof COMMAND_LOG_STATUSES)[number];

export interface NewCommand {
  deviceId: string;
  command: string;
  value: Value;
  /** Who asked: 'api:<user>', 'mqtt', 'dashboard', ... */
  source: string;
  sentAt: number;
}
