import type { CommitBatch } from '../types.js';
import { comparePositions, DRAIN_SLICE_READINGS, emptyBatch, JOURNAL_MAX_UNDRAINED, mergeInto, type DrainSlice, type IngestJournal } from './ingest-journal.js';
import type { JournalPosition, RecoveredRecord } from './journal-segments.js';

/** Wait before the timer tries a drain again after one failed. */
const DRAIN_RETRY_MS = 1_000;
/** Wait before a session's turn tries again when a compaction transaction was in flight (not a failure). */
export const DRAIN_BUSY_RETRY_MS = 2;
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
 * ms). Reads that must see every record drain them all at once. `store` runs one drain transaction, inside
 * `gate` (HubStore: its write gate); a failure is kept as the journal's lastError and retried. A session's
 * turn never waits for compaction: when the gate says a compaction transaction is in flight it tries again
 * DRAIN_BUSY_RETRY_MS later; the back-pressure slice and the reads' drains wait (WriteGate.priority).
 */
export class JournalDrain {
  readonly journal: IngestJournal;
  readonly #store: (slice: DrainSlice) => void;
  readonly #gate: DrainGate;
  #timer: NodeJS.Timeout | undefined;
  /** When #timer fires (performance.now()). */
  #timerAt = 0;
  /** The session's next turn, and the last record it drains. */
  #turn: NodeJS.Immediate | undefined;
  /** The session's turn put off while compaction wrote. */
  #busyTurn: NodeJS.Timeout | undefined;
  #through: JournalPosition | undefined;
  /** Drain cost per reading, a moving average of the slices so far (ms). */
  #msPerReading = INITIAL_MS_PER_READING;

  constructor(journal: IngestJournal, store: (slice: DrainSlice) => void, gate: DrainGate = ungated) {
    this.journal = journal;
    this.#store = store;
    this.#gate = gate;
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
    return this.#slice(strict, through, maxReadings, true) === 'drained';
  }

  /** One drain transaction; 'busy' (only when not `wait`) when a compaction transaction was in flight. */
  #slice(strict: boolean, through: JournalPosition | undefined, maxReadings: number, wait: boolean): SliceResult {
    const journal = this.journal;
    let result: SliceResult = 'empty';
    try {
      const ran = this.#gate(() => {
        // Sliced inside the gate: a turn that is put off merges nothing.
        const slice = journal.slice(maxReadings, through);
        if (!slice) return;
        const started = performance.now();
        result = 'failed';
        this.#store(slice);
        const n = slice.batch.readings.length;
        if (n >= DRAIN_SLICE_MIN_READINGS) this.#msPerReading = 0.7 * this.#msPerReading + (0.3 * (performance.now() - started)) / n;
        journal.drained(slice);
        result = 'drained';
      }, wait);
      return ran ? result : 'busy';
    } catch (err) {
      journal.failed(err);
      if (strict) throw err;
      return 'failed';
    }
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
    return this.#turn !== undefined || this.#busyTurn !== undefined;
  }

  #start(): void {
    if (this.draining) return;
    this.#through = this.journal.last();
    this.#turn = setImmediate(() => this.#step());
  }

  #step(): void {
    this.#turn = undefined;
    this.#busyTurn = undefined;
    const through = this.#through;
    const result = through ? this.#slice(false, through, this.sliceReadings, false) : 'empty';
    if (result === 'busy') {
      this.#busyTurn = setTimeout(() => this.#step(), DRAIN_BUSY_RETRY_MS);
      return;
    }
    if (result === 'drained' && this.journal.waits(through!)) {
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
    if (this.#busyTurn) clearTimeout(this.#busyTurn);
    this.#timer = undefined;
    this.#turn = undefined;
    this.#busyTurn = undefined;
    this.all(false);
    this.journal.close();
  }
}

type SliceResult = 'drained' | 'empty' | 'failed' | 'busy';

/**
 * Runs `write` (a drain transaction) when it may: `wait` says whether to wait for a compaction transaction
 * in flight (true: run it, then return true) or not (false: return false without running it while one is).
 */
export type DrainGate = (write: () => void, wait: boolean) => boolean;

const ungated: DrainGate = (write) => {
  write();
  return true;
};

/** The records past `after` (a database's marker) as one drain slice, or undefined when there are none (a backup's copy). */
export function sliceAfter(records: readonly RecoveredRecord[], after: JournalPosition): DrainSlice | undefined {
  const past = records.filter((r) => comparePositions(r, after) > 0);
  const last = past[past.length - 1];
  if (!last) return undefined;
  const batch = emptyBatch();
  for (const r of past) mergeInto(batch, r.batch);
  return { batch, after, through: { segment: last.segment, end: last.end }, records: past.length };
}
