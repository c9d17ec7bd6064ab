import type { CommitBatch } from '../types.js';
import { comparePositions, DRAIN_SLICE_READINGS, emptyBatch, JOURNAL_MAX_UNDRAINED, mergeInto, type DrainSlice, type IngestJournal } from './ingest-journal.js';
import type { JournalPosition, RecoveredRecord } from './journal-segments.js';

/** Wait before the timer tries a drain again after one failed. */
const DRAIN_RETRY_MS = 1_000;
/**
 * A session's slice, in time: the frames arriving during one wait for it. Measured (`npm run bench --
 * ingest`, 2026-12-04): 5,000 readings of 1,000 devices took 7 ms a slice in the hub (their log rows ~3.5 ms,
 * each device's device_state row ~2 ms) and put the ACK p99 at 10,000 readings/s at 15-64 ms; 10,000 at once
 * 22-29 ms. Smaller slices rewrite the device_state pages more often for the same readings.
 */
export const DRAIN_SLICE_MS = 3;
/** Fewest readings a session's slice takes, however slow the database: a drain must outpace ingest. */
export const DRAIN_SLICE_MIN_READINGS = 1_000;
/** Cost of a reading in a drain before one is measured: ~1.2 us on this machine's hub. */
const INITIAL_MS_PER_READING = 0.0012;

/**
 * When the ingest journal's records go into the database. A commit that finds a drain due (or the timer, when
 * no commit comes) starts a session: it drains the records that wait at that moment, one slice per event-loop
 * turn, so the frames and ACKs of the turns between go on (a drain of 20,000 readings at once held them 20-40
 * ms). Reads that must see every record drain them all at once. `store` runs one drain transaction
 * (HubStore: through its write gate); a failure is kept as the journal's lastError and retried.
 */
export class JournalDrain {
  readonly journal: IngestJournal;
  readonly #store: (slice: DrainSlice) => void;
  #timer: NodeJS.Timeout | undefined;
  /** When #timer fires (performance.now()). */
  #timerAt = 0;
  /** The session's next turn, and the last record it drains. */
  #turn: NodeJS.Immediate | undefined;
  #through: JournalPosition | undefined;
  /** Drain cost per reading, a moving average of the slices so far (ms). */
  #msPerReading = INITIAL_MS_PER_READING;

  constructor(journal: IngestJournal, store: (slice: DrainSlice) => void) {
    this.journal = journal;
    this.#store = store;
  }

  /**
   * Appends the batch (throws what the append throws); a drain due starts after this turn. Once
   * JOURNAL_MAX_UNDRAINED readings wait, a slice goes in first, on the commit's path: that is ingest's
   * back-pressure, and its failure what the append then throws.
   */
  commit(batch: CommitBatch): void {
    const journal = this.journal;
    if (journal.readings >= JOURNAL_MAX_UNDRAINED) this.slice(false);
    journal.append(batch);
    // After a failed drain only the timer tries again, not every commit.
    if (journal.due() && journal.lastError === undefined) this.#start();
    else this.arm();
  }

  /**
   * One drain transaction of up to `maxReadings` (none past `through`); false when there was nothing to drain
   * or (unless `strict`, then it throws) it failed.
   */
  slice(strict: boolean, through?: JournalPosition, maxReadings = DRAIN_SLICE_READINGS): boolean {
    const journal = this.journal;
    const slice = journal.slice(maxReadings, through);
    if (!slice) return false;
    const started = performance.now();
    try {
      this.#store(slice);
    } catch (err) {
      journal.failed(err);
      if (strict) throw err;
      return false;
    }
    const n = slice.batch.readings.length;
    if (n >= DRAIN_SLICE_MIN_READINGS) this.#msPerReading = 0.7 * this.#msPerReading + (0.3 * (performance.now() - started)) / n;
    journal.drained(slice);
    return true;
  }

  /**
   * Readings of a session's next slice: about DRAIN_SLICE_MS of work at the cost measured so far; the most
   * (DRAIN_SLICE_READINGS) once twice drainReadings wait, so that a drain behind a hub at full load catches up.
   */
  get sliceReadings(): number {
    if (this.journal.readings >= 2 * this.journal.settings.drainReadings) return DRAIN_SLICE_READINGS;
    return Math.min(DRAIN_SLICE_READINGS, Math.max(DRAIN_SLICE_MIN_READINGS, Math.round(DRAIN_SLICE_MS / this.#msPerReading)));
  }

  /** Whether a session is draining (a turn of it is due). */
  get draining(): boolean {
    return this.#turn !== undefined;
  }

  #start(): void {
    if (this.#turn) return;
    this.#through = this.journal.last();
    this.#turn = setImmediate(() => this.#step());
  }

  #step(): void {
    this.#turn = undefined;
    const through = this.#through;
    if (through && this.slice(false, through, this.sliceReadings) && this.journal.waits(through)) {
      this.#turn = setImmediate(() => this.#step());
      return;
    }
    // Done, or failed: the timer tries again (after DRAIN_RETRY_MS).
    this.#through = undefined;
    this.arm();
  }

  /** Drains every record, before a read that must see them (history, latest, stats, removal, retyping, close). */
  all(strict: boolean): void {
    while (this.journal.records > 0) if (!this.slice(strict)) return;
  }

  /** A timer for the records no commit comes to drain (a quiet hub); unref'd, so it keeps no process alive. */
  arm(): void {
    const ms = this.journal.dueInMs();
    if (ms === undefined) return;
    // After a failed drain, wait before the next try rather than spin on a database that refuses.
    const wait = this.journal.lastError !== undefined ? Math.max(ms, DRAIN_RETRY_MS) : ms;
    const at = performance.now() + wait;
    // A timer set for later (drainMs from the oldest record) gives way to a retry due sooner.
    if (this.#timer && this.#timerAt <= at) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.journal.due()) this.#start();
      else this.arm();
    }, wait);
    this.#timer.unref();
  }

  /** Stops the timer, drains what the database takes, and closes the journal (the rest stays in its files). */
  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#turn) clearImmediate(this.#turn);
    this.#timer = undefined;
    this.#turn = undefined;
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
