import type { ValueType } from '../../protocol/types.js';
import type { FirmwareImageRecord, FirmwareUpdateRecord } from './firmware-table.js';
import type {
  CommandLogEntry,
  CommandLogStatus,
  CommitBatch,
  DeviceHello,
  DeviceRecord,
  HistoryPoint,
  HistoryQuery,
  LatestValue,
  NewCommand,
  NewDevice,
  StoredEvent,
  StoreStats,
} from './types.js';

/** A result now (the SQLite store) or later (the PostgreSQL store): callers await it either way. */
export type MaybePromise<T> = T | Promise<T>;

/** deviceId -> the ownership epoch its claim returned; a commit with a fence checks them inside its transaction. */
export type Fence = ReadonlyMap<string, number>;

/** Device ownership across hubs (issue #16 section 2): the PostgreSQL store has it, SQLite (one hub) does not. */
export interface DeviceClaims {
  /** Makes `hubId` the device's owner; returns the new epoch (one more on every claim). */
  claimDevice(deviceId: string, hubId: string): Promise<number>;
}

/** Firmware images and update state [FP-14], as FirmwareTable (SQLite) and PgFirmware (PostgreSQL) keep them. */
export interface FirmwareStoreContract {
  /** Adds an image; the same bytes under the same name again is a no-op; HUB_ERR_FIRMWARE_EXISTS on a clash. */
  addImage(img: FirmwareImageRecord): MaybePromise<FirmwareImageRecord>;
  image(sha256: string): MaybePromise<FirmwareImageRecord | undefined>;
  imageByVersion(model: string, version: string): MaybePromise<FirmwareImageRecord | undefined>;
  images(): MaybePromise<FirmwareImageRecord[]>;
  /** Queues an update, ending (failed: superseded) the device's unfinished one; returns its id. */
  createUpdate(deviceId: string, image: FirmwareImageRecord, fromVersion: string, now: number): MaybePromise<number>;
  /** Writes the mutable fields of `u` with updatedAt = now. */
  save(u: FirmwareUpdateRecord, now: number): MaybePromise<void>;
  update(id: number): MaybePromise<FirmwareUpdateRecord | undefined>;
  openUpdate(deviceId: string): MaybePromise<FirmwareUpdateRecord | undefined>;
  openUpdates(): MaybePromise<FirmwareUpdateRecord[]>;
  /** The newest updates (of one device when given), newest first. */
  updates(limit: number, deviceId?: string): MaybePromise<FirmwareUpdateRecord[]>;
}

/**
 * Where firmware image bytes live [FP-14.3]: files in the data directory beside SQLite (FirmwareImages), rows
 * in PostgreSQL (PgImageBytes), where every hub on the database serves them.
 */
export interface ImageBytesContract {
  /** Stores the bytes of the image with this SHA-256; the same image again is a no-op. Durable when it resolves. */
  put(sha256: string, bytes: Uint8Array): MaybePromise<void>;
  /** The image's bytes, checked against its SHA-256; undefined when missing or damaged. */
  get(sha256: string): MaybePromise<Uint8Array | undefined>;
}

/**
 * What the hub asks of its storage, whichever engine keeps it (issue #16 section 1): HubStore (SQLite,
 * synchronous) and PgStore (PostgreSQL, Promises) both implement it, and hub/storage/testing/
 * store-contract-suite.ts holds both to the same answers. Engine-specific upkeep (SQLite's compaction,
 * WAL checkpoints, backup; PostgreSQL's partitions) stays on the classes.
 */
export interface HubStoreContract {
  /** Opens and migrates; throws StoreError HUB_ERR_DB_TOO_NEW for a schema newer than this code. */
  open(): MaybePromise<void>;
  /** Safe to call twice or without open(). */
  close(): MaybePromise<void>;

  /** Throws StoreError HUB_ERR_DEVICE_EXISTS if the id exists, even revoked. */
  addDevice(d: NewDevice): MaybePromise<void>;
  getDevice(id: string): MaybePromise<DeviceRecord | undefined>;
  /** Every device, revoked ones included, ordered by id. */
  listDevices(): MaybePromise<DeviceRecord[]>;
  /** Sets revokedAt; false if unknown or already revoked. */
  revokeDevice(id: string, at: number): MaybePromise<boolean>;
  /** Deletes the device and everything stored for it; false if unknown. */
  removeDevice(id: string): MaybePromise<boolean>;
  updateDeviceHello(id: string, hello: DeviceHello): MaybePromise<boolean>;
  renameDevice(id: string, name: string): MaybePromise<boolean>;
  setDeviceRoom(id: string, room: string | null): MaybePromise<boolean>;

  /** Highest committed seq of every device (0 if none yet). */
  committedSeqs(): MaybePromise<Map<string, number>>;
  committedSeq(id: string): MaybePromise<number>;
  /** Id of the (device, metric) series, created on first use; a changed value type retypes it. */
  seriesId(deviceId: string, metric: string, valueType: ValueType): MaybePromise<number>;
  /** Readings, events, seqs and lastSeen in ONE transaction: all of it or none (throws). */
  commit(batch: CommitBatch): MaybePromise<void>;

  /** Raw points or rollup buckets of one metric; [] for an unknown device or metric. */
  history(q: HistoryQuery): MaybePromise<HistoryPoint[]>;
  /** The newest stored value of each metric of a device, by metric name. */
  latest(deviceId: string): MaybePromise<LatestValue[]>;
  /** Events with ts in [from, to], newest first, at most `limit`. */
  events(deviceId: string, from: number, to: number, limit: number): MaybePromise<StoredEvent[]>;

  /** Logs a command before it is sent; returns its id (1, 2, 3, ... never reused). */
  logCommand(c: NewCommand): MaybePromise<number>;
  /** false if unknown or already finished (the first outcome stands). */
  finishCommand(id: number, status: CommandLogStatus, message: string, at: number): MaybePromise<boolean>;
  /** The newest `limit` commands of a device, newest first. */
  commands(deviceId: string, limit: number): MaybePromise<CommandLogEntry[]>;

  /** Removes expired data in a bounded step; returns how much it removed (0: nothing left). */
  retentionStep(maxRows?: number): MaybePromise<number>;
  stats(): MaybePromise<StoreStats>;
  /** The schema version of the open database: the number of the last migration applied. */
  schemaVersion(): MaybePromise<number>;
  readonly firmware: FirmwareStoreContract;
}
