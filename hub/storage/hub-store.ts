import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ValueType } from '../../protocol/types.js';
import { DEFAULT_MAX_WAL_BYTES, openDatabase, userVersion } from './database.js';
import { StoreError } from './errors.js';
import type { FirmwareTable } from './firmware-table.js';
import { IngestJournal, type DrainFault, type JournalSettings } from './journal/ingest-journal.js';
import { JournalDrain, sliceAfter } from './journal/journal-drain.js';
import { JournalSegments } from './journal/journal-segments.js';
import { fromNative, isNumeric, type Native } from './native-value.js';
import { DEFAULT_RETENTION } from './retention.js';
import type { HubStoreContract } from './store-contract.js';
import { prepareParts, type StoreParts } from './store-parts.js';
import type { WriteGate } from './write-gate.js';
import type {
  CommandLogEntry,
  CommandLogStatus,
  CommitBatch,
  DeviceHello,
  DeviceRecord,
  HistoryPoint,
  HistoryQuery,
  HubStoreOptions,
  LatestValue,
  NewCommand,
  NewDevice,
  RetentionPolicy,
  StoredEvent,
  StoreStats,
  SynchronousMode,
} from './types.js';

/** SQLite's default: a commit that leaves the WAL over this many pages checkpoints it. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;
/**
 * The hub's busy_timeout: SQLite's busy handler sleeps on the calling thread, so a lock held by another
 * process (the CLI, a backup tool) must cost the event loop a few ms at most; a write that meets SQLITE_BUSY
 * is retried on a timer instead (commits by IngestPipeline, a session's or the API's writes by retryBusy).
 */
export const HUB_BUSY_TIMEOUT_MS = 5;

/**
 * Hearth's SQLite storage: devices, readings (an append-only log compacted into compressed chunks and
 * rollups), events and the command log. Synchronous and free of hub-wide state: it takes a file path and
 * plain data, so it can move to a worker thread. Constructing it does no I/O; open() does.
 */
export class HubStore implements HubStoreContract {
  readonly #path: string;
  readonly #retention: RetentionPolicy;
  readonly #now: () => number;
  readonly #synchronous: SynchronousMode;
  readonly #busyTimeoutMs: number | undefined;
  readonly #maxWalBytes: number;
  readonly #journalSettings: JournalSettings | undefined;
  #parts: StoreParts | undefined;
  /** The ingest journal and its drains, while open with one (journal/). */
  #drain: JournalDrain | undefined;
  #gate: WriteGate | undefined;
  /** Bumped whenever log rows come or go, to know when the cached log tail is stale. */
  #logEpoch = 0;
  #tail: { epoch: number; latest: Map<number, [number, Native]> } | undefined;

  constructor(opts: HubStoreOptions) {
    this.#path = opts.path;
    this.#retention = { ...DEFAULT_RETENTION, ...opts.retention };
    this.#now = opts.now ?? Date.now;
    this.#synchronous = opts.synchronous ?? 'NORMAL';
    this.#busyTimeoutMs = opts.busyTimeoutMs;
    this.#maxWalBytes = opts.maxWalBytes ?? DEFAULT_MAX_WAL_BYTES;
    this.#journalSettings = opts.path === ':memory:' ? undefined : opts.journal;
  }

  /** Opens and migrates the database (creating its directory); throws HUB_ERR_DB_TOO_NEW for a newer schema. */
  open(): void {
    if (this.#parts) return;
    const db = openDatabase(this.#path, this.#synchronous, { busyTimeoutMs: this.#busyTimeoutMs, maxWalBytes: this.#maxWalBytes });
    try {
      if (this.#gate) db.pragma('wal_autocheckpoint = 0'); // reopened while compaction runs: it checkpoints
      this.#parts = prepareParts(db, this.#retention, this.#now);
      if (this.#journalSettings) {
        const p = this.#parts;
        const journal = new IngestJournal(this.#path, this.#synchronous === 'FULL', this.#journalSettings, () => performance.now());
        journal.load(p.sql.journalMarker.get()!);
        this.#drain = new JournalDrain(
          journal,
          (slice) => {
            p.tx.drain.immediate(slice);
            this.#logEpoch += 1;
          },
          (write, wait) => {
            const gate = this.#gate;
            if (gate && !wait) return gate.tryPriority(write);
            this.#write(write);
            return true;
          },
        );
      }
    } catch (err) {
      this.#parts = undefined;
      db.close();
      throw err;
    }
    // What a crash left in the journal goes in now; if the database refuses it (full, locked), it waits in
    // memory and on disk for the next drain, and the store opens all the same.
    this.#drain?.all(false);
    this.#drain?.arm();
  }

  /** The file and settings a CompactionRunner needs to open its own connection to this database. */
  get settings(): { path: string; retention: RetentionPolicy; synchronous: SynchronousMode; maxWalBytes: number; journaled: boolean } {
    return {
      path: this.#path,
      retention: { ...this.#retention },
      synchronous: this.#synchronous,
      maxWalBytes: this.#maxWalBytes,
      journaled: this.#journalSettings !== undefined,
    };
  }

  /**
   * Closes and opens the connection again, keeping the compaction gate: after SQLITE_READONLY, CANTOPEN,
   * IOERR or FULL a connection can stay broken (opened read-only, a dead file handle) when the cause is
   * gone. Throws what open() throws; the store is then closed until the next reopen().
   */
  reopen(): void {
    const gate = this.#gate;
    this.close();
    this.#gate = gate;
    this.open();
  }

  /** Size of the WAL file now, bytes (0 when there is none). */
  walBytes(): number {
    try {
      return statSync(`${this.#path}-wal`).size;
    } catch {
      return 0;
    }
  }

  /** Closes the database; safe to call twice or without open(). */
  close(): void {
    this.#drain?.close(); // what the database refuses stays in the journal's files for the next open()
    this.#drain = undefined;
    const parts = this.#parts;
    this.#parts = undefined;
    this.#gate = undefined;
    this.#tail = undefined;
    parts?.db.close();
  }

  get #p(): StoreParts {
    if (!this.#parts) throw new StoreError('HUB_ERR_STORE_CLOSED', `${this.#path} is not open`);
    return this.#parts;
  }

  // ---- devices -------------------------------------------------------------------------------

  /** Throws StoreError HUB_ERR_DEVICE_EXISTS if the id exists, even revoked. */
  addDevice(d: NewDevice): void {
    const { devices } = this.#p;
    this.#write(() => devices.add(d));
  }

  getDevice(id: string): DeviceRecord | undefined {
    const d = this.#p.devices.get(id);
    return d && (this.#drain?.journal.withLastSeen(d) ?? d);
  }

  /** Every device, revoked ones included, ordered by id. */
  listDevices(): DeviceRecord[] {
    const list = this.#p.devices.list();
    const journal = this.#drain?.journal;
    return journal && journal.records > 0 ? list.map((d) => journal.withLastSeen(d)) : list;
  }

  /** Sets revokedAt; false if the device is unknown or already revoked. */
  revokeDevice(id: string, at: number): boolean {
    const { devices } = this.#p;
    return this.#write(() => devices.revoke(id, at));
  }

  /** Deletes the device and everything stored for it, in one transaction; false if unknown. */
  removeDevice(id: string): boolean {
    const p = this.#p;
    this.#drain?.all(false);
    const removed = this.#write(() => p.tx.removeDevice.immediate(id));
    p.catalog.forgetDevice(id);
    this.#drain?.journal.forget(id);
    this.#logEpoch += 1;
    return removed;
  }

  /** Stores what a HELLO declared (capabilities as JSON); false if the device is unknown. */
  updateDeviceHello(id: string, hello: DeviceHello): boolean {
    const { devices } = this.#p;
    return this.#write(() => devices.updateHello(id, hello));
  }

  /** False if the device is unknown. */
  renameDevice(id: string, name: string): boolean {
    const { devices } = this.#p;
    return this.#write(() => devices.rename(id, name));
  }

  /** Sets or clears (null) the room; false if the device is unknown. */
  setDeviceRoom(id: string, room: string | null): boolean {
    const { devices } = this.#p;
    return this.#write(() => devices.setRoom(id, room));
  }

  // ---- sequence state ------------------------------------------------------------------------

  /** Highest committed seq of every device (0 if none yet). */
  committedSeqs(): Map<string, number> {
    const seqs = this.#p.devices.committedSeqs();
    return this.#drain?.journal.raiseSeqs(seqs) ?? seqs;
  }

  /** Highest committed seq of one device, 0 if none. */
  committedSeq(id: string): number {
    const stored = this.#p.devices.committedSeq(id);
    return this.#drain?.journal.seqOf(id, stored) ?? stored;
  }

  // ---- readings ------------------------------------------------------------------------------

  /**
   * Id of the (device, metric) series, created on first use; a Map lookup once cached. If the metric's
   * value type changed (a firmware update), its log rows are compacted under the old type first.
   */
  seriesId(deviceId: string, metric: string, valueType: ValueType): number {
    const hit = this.#p.catalog.cached(deviceId, metric);
    if (hit !== undefined && hit.type === valueType) return hit.id;
    const p = this.#p;
    // A plain read first: after reopen() the cache is empty, and a known series must not need the write
    // lock (a read-only or locked database would otherwise refuse frames of metrics it has stored for years).
    const known = hit ?? p.catalog.find(deviceId, metric);
    if (known !== undefined && known.type === valueType) return known.id;
    // Retyping compacts the series' log rows under the old type: the journal's must be among them.
    if (known !== undefined) this.#drain?.all(true);
    try {
      return this.#write(() => p.tx.resolveSeries.immediate(deviceId, metric, valueType));
    } catch (err) {
      p.catalog.forgetDevice(deviceId); // the cache may hold what the rollback undid
      throw err;
    } finally {
      this.#logEpoch += 1;
    }
  }

  /**
   * Commits readings, events, seqs and lastSeen all or nothing (throws): in ONE transaction, or with a
   * journal as one record appended to it (drained into the database later, in order, exactly once).
   */
  commit(batch: CommitBatch): void {
    const { writer } = this.#p;
    if (this.#drain) return this.#drain.commit(batch);
    this.#write(() => writer.commit(batch));
    this.#logEpoch += 1;
  }

  /** Drains the journal into the database now (every record, one slice per transaction); throws what a drain throws. */
  drainJournal(): void {
    this.#drain?.all(true);
  }

  /** What waits in the journal, without draining it first (stats() drains); undefined without one. */
  journalStats(): ReturnType<IngestJournal['info']> | undefined {
    return this.#drain?.journal.info();
  }

  /** Since when and why the journal's drains fail (the database refuses them), or undefined while they succeed. */
  journalFault(): DrainFault | undefined {
    return this.#drain?.journal.fault();
  }

  /** Firmware images and update state [FP-14]; run writes through write() so they go before compaction. */
  get firmware(): FirmwareTable {
    return this.#p.firmware;
  }

  /** Runs a small write of another part (firmware updates) with the priority commits have over compaction. */
  write<T>(fn: () => T): T {
    return this.#write(fn);
  }

  /**
   * Every write of this connection goes through here: while compaction runs, it waits (at most
   * WriteGate's few ms) for compaction's write transaction in flight and holds its next one off, so a
   * normal compaction pass never makes a device's or the API's write meet SQLITE_BUSY. A lock held longer
   * (another process, a WAL truncation) still throws SQLITE_BUSY after HUB_BUSY_TIMEOUT_MS: callers retry
   * on a timer (IngestPipeline, retryBusy), never blocking the event loop.
   */
  #write<T>(write: () => T): T {
    return this.#gate ? this.#gate.priority(write) : write();
  }

  /**
   * While a CompactionRunner works on this database (pass its gate), commits go before its write
   * transactions and WAL checkpoints are left to it, off this thread; undefined restores the defaults.
   */
  attachCompaction(gate: WriteGate | undefined): void {
    this.#gate = gate;
    if (!gate && !this.#parts) return; // detaching after close(): nothing to restore
    this.#p.db.pragma(`wal_autocheckpoint = ${gate ? 0 : DEFAULT_AUTOCHECKPOINT_PAGES}`);
  }

  /**
   * Moves up to maxRows of the oldest log rows into chunks, rollups and series_latest, in one
   * transaction on this connection; returns how many rows left the log. The hub compacts with a
   * CompactionRunner instead (off its main thread); this stays for tools, tests and benchmarks.
   */
  compactStep(maxRows = 50_000): number {
    this.#drain?.all(false);
    const moved = this.#p.compaction.moveOldest(maxRows);
    if (moved > 0) this.#logEpoch += 1;
    return moved;
  }

  /** Deletes at most maxRows expired rows (chunks, events, rollups); returns how many. */
  retentionStep(maxRows = 5_000): number {
    return this.#p.retention.step(maxRows);
  }

  /**
   * Raw points or rollup buckets of one metric; [] for an unknown device or metric. Log and chunks (or
   * rollups) are read in one read transaction, so a reading that compaction (on another connection)
   * moves meanwhile is counted exactly once.
   */
  history(q: HistoryQuery): HistoryPoint[] {
    const p = this.#p;
    this.#drain?.all(false);
    if (!(q.limit > 0) || q.from > q.to) return [];
    return p.tx.snapshot(() => {
      const info = p.catalog.find(q.deviceId, q.metric);
      if (!info) return [];
      if (q.step === 'raw') return p.history.raw(info.id, q.from, q.to, q.limit);
      return isNumeric(info.type) ? p.history.rolled(info.id, q.step, q.from, q.to, q.limit) : [];
    });
  }

  /** The newest stored value of each metric of a device, compacted or still in the log, by metric name. */
  latest(deviceId: string): LatestValue[] {
    const p = this.#p;
    this.#drain?.all(false);
    // One snapshot: a row compaction moves meanwhile is then in series_latest or the log tail, not neither.
    return p.tx.snapshot(() => this.#latest(p, deviceId));
  }

  #latest(p: StoreParts, deviceId: string): LatestValue[] {
    const series = p.catalog.ofDevice(deviceId);
    if (series.length === 0) return [];
    const stored = new Map<number, [number, Native]>();
    for (const [id, ts, raw] of p.sql.stored.all(deviceId)) stored.set(id, [ts, raw]);
    const tail = this.#logTail(p);
    const out: LatestValue[] = [];
    for (const s of series) {
      const a = stored.get(s.id);
      const b = tail.get(s.id);
      const newest = a && b ? (b[0] >= a[0] ? b : a) : (a ?? b);
      if (newest) out.push({ metric: s.metric, ts: newest[0], value: fromNative(s.type, newest[1]) });
    }
    return out;
  }

  /** Newest log row of every series, cached until the log changes: loading all devices at start scans once. */
  #logTail(p: StoreParts): Map<number, [number, Native]> {
    if (this.#tail?.epoch !== this.#logEpoch) {
      const latest = new Map<number, [number, Native]>();
      for (const [series, ts, raw] of p.sql.logTail.all()) latest.set(series, [ts, raw]);
      this.#tail = { epoch: this.#logEpoch, latest };
    }
    return this.#tail.latest;
  }

  // ---- events and commands -------------------------------------------------------------------

  /** Events of a device with ts in [from, to], newest first, at most `limit`. */
  events(deviceId: string, from: number, to: number, limit: number): StoredEvent[] {
    const events = this.#p.events;
    this.#drain?.all(false);
    return events.list(deviceId, from, to, limit);
  }

  /** Logs a command before it is sent; returns its id, used as the COMMAND frame id (fits a varint). */
  logCommand(c: NewCommand): number {
    const { commands } = this.#p;
    return this.#write(() => commands.log(c));
  }

  /** Records how a command ended; false if unknown or already finished (the first outcome stands). */
  finishCommand(id: number, status: CommandLogStatus, message: string, at: number): boolean {
    const { commands } = this.#p;
    return this.#write(() => commands.finish(id, status, message, at));
  }

  /** The newest `limit` commands of a device, newest first. */
  commands(deviceId: string, limit: number): CommandLogEntry[] {
    return this.#p.commands.list(deviceId, limit);
  }

  // ---- housekeeping --------------------------------------------------------------------------

  /** Sizes and counts; `bytes` is the database file plus its WAL. */
  stats(): StoreStats {
    const { counts } = this.#p.sql;
    this.#drain?.all(false);
    const c = counts.get()!;
    const journal = this.#drain?.journal.info();
    const undrained = journal?.readings ?? 0;
    let bytes = journal?.bytes ?? 0;
    for (const file of [this.#path, `${this.#path}-wal`]) {
      try {
        bytes += statSync(file).size;
      } catch {
        // No WAL file (yet): it counts as zero.
      }
    }
    const stats: StoreStats = { bytes, pendingLogRows: c.pending + undrained, chunks: c.chunks, storedReadings: c.stored + c.pending + undrained };
    return journal ? { ...stats, journal } : stats;
  }

  /** The schema version of the open database (PRAGMA user_version). */
  schemaVersion(): number {
    return userVersion(this.#p.db);
  }

  /** PRAGMA data_version: changes when another connection (the CLI, the compaction worker) commits. */
  dataVersion(): number {
    return this.#p.sql.dataVersion.get()!;
  }

  /** Bumped in the transaction of every change to a device's row the registry keeps (migration 0005). */
  deviceChangeVersion(): number {
    return this.#p.sql.deviceChanges.get()!;
  }

  /** Copies the database to destPath with SQLite's online backup; writes may go on meanwhile. */
  async backup(destPath: string): Promise<void> {
    const db = this.#p.db;
    this.#drain?.all(false); // the copy holds every reading the journal could hand over
    // Another process owns the journal (the CLI beside a running hub): its records not drained yet go into the
    // copy. Read before the copy is taken, so that a record drained and deleted meanwhile is in one or the other.
    const journaled = this.#drain || this.#path === ':memory:' ? [] : new JournalSegments(this.#path, false).snapshot();
    mkdirSync(dirname(destPath), { recursive: true });
    await db.backup(destPath);
    if (journaled.length === 0) return;
    const copy = new HubStore({ path: destPath });
    copy.open();
    try {
      const slice = sliceAfter(journaled, copy.#p.sql.journalMarker.get()!);
      if (slice) copy.#p.tx.drain.immediate(slice);
    } finally {
      copy.close();
    }
  }

  /** Bytes of each table and index in the database file (SQLite's dbstat), largest first. */
  spaceUsage(): Array<{ name: string; bytes: number }> {
    const { space } = this.#p.sql;
    this.#drain?.all(false);
    return space.all();
  }

  /** Checkpoints the WAL into the database file and truncates it (for size measurements and quiet moments). */
  checkpoint(): void {
    const { db } = this.#p;
    this.#drain?.all(false);
    db.pragma('wal_checkpoint(TRUNCATE)');
  }
}
