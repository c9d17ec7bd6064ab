import { faultCause, type StorageFaultCause } from '../fault-cause.js';
import type { CommitBatch, DeviceRecord } from '../types.js';
import { JournalSegments, type JournalPosition } from './journal-segments.js';

/** When the journal's records go into the database (config `ingest.journal*`). */
export interface JournalSettings {
  /** Records older than this are drained at the next commit (or by the store's timer when none comes). */
  drainMs: number;
  /** ...and at once once this many readings wait. */
  drainReadings: number;
}

/**
 * Defaults, measured with `npm run bench -- ingest` (BENCHMARKS.md, 2026-12-04): a drain costs the pages it
 * touches besides the log's own (each device's device_state row, the log's last page again, page 1), ~10
 * pages twice (WAL, then checkpoint) with 1,000 devices, so it is worth waiting for a few thousand readings.
 */
export const JOURNAL_DEFAULTS: JournalSettings = { drainMs: 5_000, drainReadings: 20_000 };
/** Most readings one drain transaction writes: a read that must see every record drains in slices this big. */
export const DRAIN_SLICE_READINGS = 10_000;
/**
 * Undrained readings above which appends are refused with the drain's own error (the database is full,
 * locked or read-only while the journal's disk still has room): the records wait in memory as well as on
 * disk, so this bounds the hub's memory, and the refusal is what pauses the devices (ingest back-pressure).
 */
export const JOURNAL_MAX_UNDRAINED = 200_000;

/** Drains failing since `since` (wall clock ms), `failures` of them, the last for `message`: what /api/health reports. */
export interface DrainFault {
  cause: StorageFaultCause;
  message: string;
  since: number;
  failures: number;
}

/** One record waiting for its drain. */
interface Entry extends JournalPosition {
  batch: CommitBatch;
  /** Clock time it was appended (or found at start-up). */
  at: number;
}

/** What one drain transaction writes: the records merged, and the marker that says so. */
export interface DrainSlice {
  batch: CommitBatch;
  /** Position the slice starts after (the marker's value before it). */
  after: JournalPosition;
  /** Marker value once it is in: the end of its last record. */
  through: JournalPosition;
  records: number;
}

export function emptyBatch(): CommitBatch {
  return { readings: [], events: [], seqs: new Map(), lastSeen: new Map() };
}

/** Appends `b` to `into` as if both had been one group commit: later seqs win, lastSeen keeps the newest. */
export function mergeInto(into: CommitBatch, b: CommitBatch): void {
  for (const r of b.readings) into.readings.push(r);
  for (const e of b.events) into.events.push(e);
  for (const [id, seq] of b.seqs) into.seqs.set(id, seq);
  for (const [id, at] of b.lastSeen) into.lastSeen.set(id, Math.max(at, into.lastSeen.get(id) ?? 0));
}

/** Orders positions: negative when a is before b. */
export function comparePositions(a: JournalPosition, b: JournalPosition): number {
  return a.segment - b.segment || a.end - b.end;
}

/**
 * The ingest journal in front of SQLite: a group commit is one record appended to a file (its bytes, not the
 * 4 KiB pages a transaction touches), acknowledged once written, and its readings go into the database later,
 * thousands per transaction. Until then this keeps them in memory, in order, with each device's newest seq and
 * lastSeen for the store's reads. The store (hub-store.ts) runs the drain transactions, each storing a slice
 * of records and the marker of how far the journal is in the database: a record is in the database exactly
 * once whatever crashes, because the marker moves in the transaction that stores it.
 */
export class IngestJournal {
  readonly settings: JournalSettings;
  readonly #segments: JournalSegments;
  readonly #now: () => number;
  #entries: Entry[] = [];
  #readings = 0;
  /** Newest journaled seq and lastSeen per device: the database has them, or these are newer. */
  readonly #seqs = new Map<string, number>();
  readonly #seen = new Map<string, number>();
  /** The database's marker as of the last drain (or start-up). */
  #marker: JournalPosition = { segment: 0, end: 0 };
  /** Why the last drain failed; cleared by one that succeeds. */
  lastError: unknown;
  #failingSince = 0;
  #failures = 0;

  constructor(dbPath: string, sync: boolean, settings: JournalSettings, now: () => number) {
    this.settings = settings;
    this.#segments = new JournalSegments(dbPath, sync);
    this.#now = now;
  }

  /** Loads every record past `marker` (the database's) from disk; segments wholly in the database are deleted. */
  load(marker: JournalPosition): void {
    this.#marker = marker;
    const at = this.#now();
    for (const r of this.#segments.recover(marker.segment)) {
      if (comparePositions(r, marker) <= 0) continue;
      this.#push({ ...r, at });
    }
    this.#release();
  }

  /**
   * Appends one group commit; once this returns it survives a crash of the process (and, when syncing, power
   * loss). Throws the last drain's error while JOURNAL_MAX_UNDRAINED readings wait, else what the file throws.
   */
  append(batch: CommitBatch): void {
    if (this.#readings >= JOURNAL_MAX_UNDRAINED && this.lastError !== undefined) throw this.lastError;
    const pos = this.#segments.append(batch);
    this.#push({ batch, ...pos, at: this.#now() });
  }

  /** Records appended and not yet in the database. */
  get records(): number {
    return this.#entries.length;
  }

  /** Their readings. */
  get readings(): number {
    return this.#readings;
  }

  /** Where the newest record ends, or undefined with none waiting. */
  last(): JournalPosition | undefined {
    const e = this.#entries[this.#entries.length - 1];
    return e && { segment: e.segment, end: e.end };
  }

  /** Whether records up to `through` still wait. */
  waits(through: JournalPosition): boolean {
    const first = this.#entries[0];
    return first !== undefined && comparePositions(first, through) <= 0;
  }

  /** Whether a drain is due: enough readings wait, or the oldest has waited drainMs. */
  due(): boolean {
    const first = this.#entries[0];
    if (!first) return false;
    return this.#readings >= this.settings.drainReadings || this.#now() - first.at >= this.settings.drainMs;
  }

  /** Ms until the oldest record is due (0: now), or undefined with nothing to drain. */
  dueInMs(): number | undefined {
    const first = this.#entries[0];
    if (!first) return undefined;
    if (this.#readings >= this.settings.drainReadings) return 0;
    return Math.max(0, first.at + this.settings.drainMs - this.#now());
  }

  /**
   * The oldest records merged into one batch of about `maxReadings` (whole records), none past `through` when
   * given; undefined with none.
   */
  slice(maxReadings = DRAIN_SLICE_READINGS, through?: JournalPosition): DrainSlice | undefined {
    const entries = this.#entries;
    const take = (e: Entry | undefined): e is Entry => e !== undefined && (through === undefined || comparePositions(e, through) <= 0);
    if (!take(entries[0])) return undefined;
    const batch = emptyBatch();
    let n = 0;
    while (take(entries[n]) && (n === 0 || batch.readings.length + entries[n]!.batch.readings.length <= maxReadings)) {
      mergeInto(batch, entries[n++]!.batch);
    }
    const last = entries[n - 1]!;
    // Its segment can then be deleted once drained: the next append starts another.
    if (last.segment === this.#segments.active) this.#segments.rotate();
    return { batch, after: this.#marker, through: { segment: last.segment, end: last.end }, records: n };
  }

  /** A drain failed for `err`. */
  failed(err: unknown): void {
    if (this.lastError === undefined) this.#failingSince = Date.now();
    this.#failures = this.lastError === undefined ? 1 : this.#failures + 1;
    this.lastError = err;
  }

  /** Since when and why drains fail, or undefined while they succeed. */
  fault(): DrainFault | undefined {
    const err = this.lastError;
    if (err === undefined) return undefined;
    return { cause: faultCause(err), message: String((err as Error)?.message ?? err), since: this.#failingSince, failures: this.#failures };
  }

  /** The slice is in the database: forget its records and delete the segments now wholly drained. */
  drained(slice: DrainSlice): void {
    const gone = this.#entries.splice(0, slice.records);
    for (const e of gone) this.#readings -= e.batch.readings.length;
    this.#marker = slice.through;
    this.lastError = undefined;
    if (this.#entries.length === 0) {
      this.#seqs.clear();
      this.#seen.clear();
    }
    this.#release();
  }

  /** A device's seq: `stored` (the database's) or the journal's when a record not drained yet has a higher one. */
  seqOf(id: string, stored: number): number {
    const seq = this.#seqs.get(id);
    return seq !== undefined && seq > stored ? seq : stored;
  }

  /** Raises the database's seqs (`stored`, by device) to the journal's where those are higher; devices absent stay absent. */
  raiseSeqs(stored: Map<string, number>): Map<string, number> {
    for (const [id, seq] of this.#seqs) if (stored.has(id) && seq > stored.get(id)!) stored.set(id, seq);
    return stored;
  }

  /** The device with its lastSeen as a record not drained yet has it, when that is newer. */
  withLastSeen(d: DeviceRecord): DeviceRecord {
    const seen = this.#seen.get(d.id);
    return seen !== undefined && seen > (d.lastSeen ?? -1) ? { ...d, lastSeen: seen } : d;
  }

  /** What waits, the files' bytes, and why the last drain failed (StoreStats.journal). */
  info(): { readings: number; records: number; bytes: number; drainError: string | null } {
    const err = this.lastError;
    return { readings: this.#readings, records: this.#entries.length, bytes: this.bytes(), drainError: err === undefined ? null : String((err as Error)?.message ?? err) };
  }

  /** A removed device: its seq must not outlive it (a new device of the same id starts at 0). */
  forget(id: string): void {
    this.#seqs.delete(id);
    this.#seen.delete(id);
  }

  /** Bytes of the journal's files. */
  bytes(): number {
    return this.#segments.bytes();
  }

  /** Closes the active segment; what is undrained stays on disk for the next load(). */
  close(): void {
    this.#segments.close();
    this.#entries = [];
    this.#readings = 0;
    this.#seqs.clear();
    this.#seen.clear();
  }

  #push(e: Entry): void {
    this.#entries.push(e);
    this.#readings += e.batch.readings.length;
    for (const [id, seq] of e.batch.seqs) this.#seqs.set(id, seq);
    for (const [id, at] of e.batch.lastSeen) this.#seen.set(id, Math.max(at, this.#seen.get(id) ?? 0));
  }

  /** Deletes every closed segment with no record left to drain. */
  #release(): void {
    const first = this.#entries[0]?.segment ?? Infinity;
    for (const segment of this.#segments.list()) {
      if (segment < first && segment !== this.#segments.active) this.#segments.remove(segment);
    }
  }
}
