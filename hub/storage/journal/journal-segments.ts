import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { StoreError, type StoreErrorCode } from '../errors.js';
import type { CommitBatch } from '../types.js';
import { decodeRecord, encodeRecord } from './journal-record.js';

/** The first bytes of every segment: what it is and the record format's version. */
const MAGIC = Buffer.from('HRTHJNL1', 'latin1');

/** Where a record ends: its segment and the offset just past it (the drain marker's unit). */
export interface JournalPosition {
  segment: number;
  end: number;
}

/** A record found again at start-up, in journal order. */
export interface RecoveredRecord extends JournalPosition {
  batch: CommitBatch;
}

/**
 * The ingest journal's files beside the database: `<db>-ingest-<n>`, numbered upwards, each MAGIC then
 * records (journal-record.ts). Appends go to the newest segment; rotate() starts the next one, so that a
 * drained segment can be deleted whole. A failed append is cut back to the last whole record and the
 * segment closed, so a segment is always whole records followed at most by one torn by a crash.
 */
export class JournalSegments {
  readonly #dbPath: string;
  readonly #sync: boolean;
  #next = 1;
  #active: { segment: number; fd: number; size: number } | undefined;

  /** `sync`: fdatasync after every append (db.synchronous FULL: survives power loss, costs a page per commit). */
  constructor(dbPath: string, sync: boolean) {
    this.#dbPath = dbPath;
    this.#sync = sync;
  }

  /** Segment numbers on disk, ascending. */
  list(): number[] {
    const dir = dirname(this.#dbPath);
    const prefix = `${basename(this.#dbPath)}-ingest-`;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return [];
    }
    const out: number[] = [];
    for (const name of names) {
      if (!name.startsWith(prefix)) continue;
      const n = Number(name.slice(prefix.length));
      if (Number.isSafeInteger(n) && n > 0 && String(n) === name.slice(prefix.length)) out.push(n);
    }
    return out.sort((a, b) => a - b);
  }

  /**
   * Every whole record of every segment, in order; numbers new segments after the highest seen (and after
   * `after`, the drain marker's segment, whose file may be gone). Throws HUB_ERR_JOURNAL_CORRUPT for a
   * file that is not a segment or a record that passes its CRC and does not decode.
   */
  recover(after: number): RecoveredRecord[] {
    const out: RecoveredRecord[] = [];
    let highest = after;
    for (const segment of this.list()) {
      highest = Math.max(highest, segment);
      const path = this.path(segment);
      const bytes = readFileSync(path);
      if (bytes.length < MAGIC.length) continue; // created, then the crash came before its first record
      if (!bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
        throw new StoreError('HUB_ERR_JOURNAL_CORRUPT', `${path} is not a Hearth ingest journal segment (its first bytes differ)`);
      }
      let offset = MAGIC.length;
      for (;;) {
        let rec;
        try {
          rec = decodeRecord(bytes, offset);
        } catch (err) {
          throw new StoreError('HUB_ERR_JOURNAL_CORRUPT', `${path}: the record at offset ${offset} does not decode: ${(err as Error).message}`, { cause: err });
        }
        if (!rec) break;
        out.push({ batch: rec.batch, segment, end: rec.end });
        offset = rec.end;
      }
    }
    this.#next = highest + 1;
    return out;
  }

  /**
   * Every whole record on disk, read without changing anything, for a process that does not own the journal
   * (`hearth backup` beside a running hub): a segment the hub deletes meanwhile is skipped (its records are
   * then in the database), and a record it is writing ends its segment.
   */
  snapshot(): RecoveredRecord[] {
    const out: RecoveredRecord[] = [];
    for (const segment of this.list()) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(this.path(segment));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw journalError(err, `reading ${this.path(segment)}`);
      }
      if (bytes.length < MAGIC.length || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) continue;
      for (let offset = MAGIC.length, rec = safeDecode(bytes, offset); rec; offset = rec.end, rec = safeDecode(bytes, offset)) {
        out.push({ batch: rec.batch, segment, end: rec.end });
      }
    }
    return out;
  }

  /** Appends the batch as one record; where it ends. Throws HUB_ERR_JOURNAL_FULL / _READONLY / _IO, having written nothing. */
  append(batch: CommitBatch): JournalPosition {
    const record = encodeRecord(batch);
    const seg = this.#active ?? this.#open();
    try {
      let done = 0;
      while (done < record.length) done += writeSync(seg.fd, record, done, record.length - done, seg.size + done);
      if (this.#sync) fdatasyncSync(seg.fd);
    } catch (err) {
      // Cut back to the last whole record, then leave this segment: whatever stayed is at most a torn record
      // at its end, which recovery stops at; the next append starts a segment of its own.
      try {
        ftruncateSync(seg.fd, seg.size);
      } catch {
        // The torn tail stays; recovery stops at it.
      }
      this.rotate();
      throw journalError(err, `appending to ${this.path(seg.segment)}`);
    }
    seg.size += record.length;
    return { segment: seg.segment, end: seg.size };
  }

  /** The segment appends go to now, or undefined before the first append after rotate(). */
  get active(): number | undefined {
    return this.#active?.segment;
  }

  /** Closes the active segment: the next append starts a new one. */
  rotate(): void {
    const seg = this.#active;
    this.#active = undefined;
    if (seg) closeSync(seg.fd);
  }

  /** Deletes a segment every record of which is in the database (never the active one). */
  remove(segment: number): void {
    if (segment === this.#active?.segment) return;
    try {
      unlinkSync(this.path(segment));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw journalError(err, `deleting ${this.path(segment)}`);
    }
  }

  /** Bytes of every segment on disk. */
  bytes(): number {
    let total = 0;
    for (const segment of this.list()) {
      try {
        total += statSync(this.path(segment)).size;
      } catch {
        // Deleted meanwhile.
      }
    }
    return total;
  }

  path(segment: number): string {
    return `${this.#dbPath}-ingest-${segment}`;
  }

  close(): void {
    this.rotate();
  }

  #open(): { segment: number; fd: number; size: number } {
    const segment = this.#next++;
    const path = this.path(segment);
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (err) {
      throw journalError(err, `creating ${path}`);
    }
    try {
      writeSync(fd, MAGIC, 0, MAGIC.length, 0);
      if (this.#sync) {
        fdatasyncSync(fd);
        syncDir(dirname(path)); // the new file's name must survive power loss with its records
      }
    } catch (err) {
      closeSync(fd);
      try {
        unlinkSync(path);
      } catch {
        // Recovery skips a segment shorter than its magic.
      }
      throw journalError(err, `creating ${path}`);
    }
    this.#active = { segment, fd, size: MAGIC.length };
    return this.#active;
  }
}

function safeDecode(bytes: Buffer, offset: number): ReturnType<typeof decodeRecord> {
  try {
    return decodeRecord(bytes, offset);
  } catch {
    return undefined;
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A file error as a StoreError whose code says its fault cause (fault-cause.ts): full, read-only or I/O. */
function journalError(err: unknown, doing: string): StoreError {
  const errno = String((err as NodeJS.ErrnoException | undefined)?.code ?? '');
  const code: StoreErrorCode =
    errno === 'ENOSPC' || errno === 'EDQUOT' ? 'HUB_ERR_JOURNAL_FULL'
    : errno === 'EROFS' || errno === 'EACCES' || errno === 'EPERM' ? 'HUB_ERR_JOURNAL_READONLY'
    : 'HUB_ERR_JOURNAL_IO';
  return new StoreError(code, `ingest journal: ${doing}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
