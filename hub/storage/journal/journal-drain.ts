import type { CommitBatch } from '../types.js';
import { comparePositions, emptyBatch, mergeInto, type DrainSlice, type IngestJournal } from './ingest-journal.js';
import type { JournalPosition, RecoveredRecord } from './journal-segments.js';

/** Wait before the timer tries a drain again after one failed. */
const DRAIN_RETRY_MS = 1_000;

/**
 * When the ingest journal's records go into the database: at a commit that finds a drain due, on a timer when
 * no commit comes, and all of them before a read that must see them. `store` runs one drain transaction
 * (HubStore: through its write gate); a failure is kept as the journal's lastError and retried.
 */
export class JournalDrain {
  readonly journal: IngestJournal;
  readonly #store: (slice: DrainSlice) => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(journal: IngestJournal, store: (slice: DrainSlice) => void) {
    this.journal = journal;
    this.#store = store;
  }

  /** Appends the batch (throws what the append throws); then drains a slice if one is due, never failing for it. */
  commit(batch: CommitBatch): void {
    this.journal.append(batch);
    if (this.journal.due()) this.slice(false);
    this.arm();
  }

  /** One drain transaction; false when there was nothing to drain or (unless `strict`, then it throws) it failed. */
  slice(strict: boolean): boolean {
    const journal = this.journal;
    const slice = journal.slice();
    if (!slice) return false;
    try {
      this.#store(slice);
    } catch (err) {
      journal.lastError = err;
      if (strict) throw err;
      return false;
    }
    journal.drained(slice);
    return true;
  }

  /** Drains every record, before a read that must see them (history, latest, stats, removal, retyping, close). */
  all(strict: boolean): void {
    while (this.journal.records > 0) if (!this.slice(strict)) return;
  }

  /** A timer for the records no commit comes to drain (a quiet hub); unref'd, so it keeps no process alive. */
  arm(): void {
    if (this.#timer) return;
    const ms = this.journal.dueInMs();
    if (ms === undefined) return;
    // After a failed drain, wait before the next try rather than spin on a database that refuses.
    const wait = this.journal.lastError !== undefined ? Math.max(ms, DRAIN_RETRY_MS) : ms;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.journal.due()) this.slice(false);
      this.arm();
    }, wait);
    this.#timer.unref();
  }

  /** Stops the timer, drains what the database takes, and closes the journal (the rest stays in its files). */
  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.all(false);
    this.journal.close();
  }
}

/** The records past `after` (a database's marker) as one drain slice, or undefined when there are none (a backup's copy). */
export function sliceAfter(records: readonly RecoveredRecord[], after: JournalPosition): DrainSlice | undefined {
  const past = records.filter((r) => comparePositions(r, after) > 0);
  const last = past[past.length - 1];
  if (!last) return undefined;
  const batch = emptyBatch();
  for (const r of past) mergeInto(batch, r.batch);
  return { batch, after, through: { segment: last.segment, end: last.end }, records: past.length };
}
