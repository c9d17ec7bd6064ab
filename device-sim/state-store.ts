import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from './clock.js';
import { applyRecord, emptySnapshot, parseJournal, type JournalLine, type JournalRecord } from './journal-record.js';
import type { OutboxSnapshot } from './outbox.js';

/** Version 1 was the debounced snapshot alone; version 2 pairs a snapshot with a write-ahead journal. */
const STATE_VERSION = 2;
/** A journal this long is folded into a new snapshot (bounded start-up time and disk use). */
const DEFAULT_COMPACT_BYTES = 4 << 20;

interface StateFile {
  version: number;
  deviceId: string;
  savedAt: number;
  /** The journal generation that continues this snapshot; a journal of another generation is stale. */
  generation?: number;
  outbox: OutboxSnapshot;
}

export interface StateStoreOptions {
  /** Fold the journal into a snapshot once it is this many bytes (default 4 MiB). */
  compactBytes?: number;
  /** Also append every record to this file, never compacted: the device's record of what it generated. */
  recordFile?: string;
}

/**
 * A device's delivery state under --state-dir: a snapshot (`device-<id>.json`) plus a write-ahead journal
 * (`device-<id>.journal`) that gets one line per change, written synchronously before the change can reach
 * the wire. A SIGKILL at any moment therefore loses no generated reading and never lets a seq be reused
 * for other content [FP-8.1]. (The lines reach the OS at once; they survive a killed process, not a power
 * cut, which would need an fsync per frame.)
 */
export class StateStore {
  readonly file: string;
  readonly journalFile: string;
  readonly #dir: string;
  readonly #deviceId: string;
  readonly #clock: Clock;
  readonly #snapshot: () => OutboxSnapshot;
  readonly #compactBytes: number;
  readonly #recordFile: string | undefined;
  #journalFd: number | null = null;
  #recordFd: number | null = null;
  #journalBytes = 0;
  #generation = 0;
  #compactDue = false;
  /** Snapshots written (start-up, compactions, close). */
  saves = 0;

  constructor(dir: string, deviceId: string, clock: Clock, snapshot: () => OutboxSnapshot, options: StateStoreOptions = {}) {
    this.#dir = dir;
    this.#deviceId = deviceId;
    this.file = join(dir, `device-${deviceId}.json`);
    this.journalFile = join(dir, `device-${deviceId}.journal`);
    this.#clock = clock;
    this.#snapshot = snapshot;
    this.#compactBytes = options.compactBytes ?? DEFAULT_COMPACT_BYTES;
    this.#recordFile = options.recordFile;
  }

  /**
   * Reads the snapshot and replays the journal over it; null when there is neither. Throws when the
   * snapshot exists but is not ours. Opens the journal for append (a torn last line is cut first).
   */
  load(): OutboxSnapshot | null {
    mkdirSync(this.#dir, { recursive: true });
    let state: OutboxSnapshot | null = null;
    if (existsSync(this.file)) {
      const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as StateFile;
      if ((parsed.version !== 1 && parsed.version !== STATE_VERSION) || parsed.deviceId !== this.#deviceId) {
        throw new Error(`${this.file}: not a version ${STATE_VERSION} state file of device ${this.#deviceId}`);
      }
      state = parsed.outbox;
      this.#generation = parsed.generation ?? 0;
    }
    if (existsSync(this.journalFile)) {
      const { lines, validBytes } = parseJournal(readFileSync(this.journalFile, 'utf8'));
      const header = lines[0];
      // A journal of an older generation was already folded into the snapshot (killed mid-compaction).
      if (header !== undefined && header.k === 'generation' && header.generation === this.#generation) {
        state ??= emptySnapshot();
        for (const line of lines.slice(1)) applyRecord(state, line);
        this.#journalFd = openSync(this.journalFile, 'r+');
        ftruncateSync(this.#journalFd, validBytes);
        closeSync(this.#journalFd);
        this.#journalFd = openSync(this.journalFile, 'a');
        this.#journalBytes = validBytes;
      }
    }
    if (this.#journalFd === null) this.#newJournal();
    if (this.#recordFile !== undefined) this.#recordFd = openSync(this.#recordFile, 'a');
    return state;
  }

  /** Appends one record to the journal (and the record file) before returning; compacts when due. */
  append(record: JournalRecord): void {
    if (this.#journalFd === null) return; // not loaded (or closed): nothing of this run is kept
    const line = `${JSON.stringify({ ...record, at: this.#clock.now() })}\n`;
    writeSync(this.#journalFd, line);
    if (this.#recordFd !== null) writeSync(this.#recordFd, line);
    this.#journalBytes += Buffer.byteLength(line);
    // Records are written mid-change (before the frame joins the buffer): snapshot once the change is whole.
    if (this.#journalBytes >= this.#compactBytes && !this.#compactDue) {
      this.#compactDue = true;
      queueMicrotask(() => {
        this.#compactDue = false;
        this.compact();
      });
    }
  }

  /**
   * Folds the journal into a new snapshot: the snapshot (next generation) is renamed into place first, then
   * a fresh journal of that generation, so a kill between the two leaves a stale journal that load() skips.
   */
  compact(): void {
    if (this.#journalFd === null) return;
    this.#generation++;
    this.#writeSnapshot();
    closeSync(this.#journalFd);
    this.#journalFd = null;
    this.#newJournal();
  }

  /** Compacts and closes the files; appends after this are ignored. */
  close(): void {
    if (this.#journalFd === null) return;
    this.compact();
    closeSync(this.#journalFd!);
    this.#journalFd = null;
    if (this.#recordFd !== null) closeSync(this.#recordFd);
    this.#recordFd = null;
  }

  #writeSnapshot(): void {
    const state: StateFile = { version: STATE_VERSION, deviceId: this.#deviceId, savedAt: this.#clock.now(), generation: this.#generation, outbox: this.#snapshot() };
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(state));
    renameSync(tmp, this.file);
    this.saves++;
  }

  #newJournal(): void {
    const header = `${JSON.stringify({ k: 'generation', generation: this.#generation, at: this.#clock.now() } satisfies JournalLine)}\n`;
    const tmp = `${this.journalFile}.${process.pid}.tmp`;
    writeFileSync(tmp, header);
    renameSync(tmp, this.journalFile);
    this.#journalFd = openSync(this.journalFile, 'a');
    this.#journalBytes = Buffer.byteLength(header);
  }
}
