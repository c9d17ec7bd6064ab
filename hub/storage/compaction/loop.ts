import { faultCause, REOPEN_CAUSES } from '../fault-cause.js';
import type { PassLimits, PassResult } from './pass.js';
import type { CompactionStore } from './store.js';

/**
 * When to compact, measured with bench/compaction.ts (8,000 series, 100,000 readings/s):
 * - a pass starts once the log holds MIN_ROWS rows, or any rows for MAX_AGE_MS: at 100k readings/s a
 *   pass every ~0.5-1 s, so each series brings 6-12 rows and the per-series cost (one chunk rewrite,
 *   rollup and latest upserts, ~12 us of write) is shared by several rows; a quiet hub still compacts
 *   within 10 s.
 * - a pass reads up to 100,000 rows: reading, decoding, merging and encoding is ~2-3 us a row in the
 *   worker, with no lock held; writing them is ~100 ms in one transaction.
 * - so the writes are cut into transactions of at most 1,500 rows and 125 series: 5-7 ms each (the hub's
 *   commits wait at most that), against ~105 ms for one transaction of 8,000 series, ~28 ms for groups of
 *   12,500 rows / 1,000 series and ~13 ms for 3,000 / 250. The total write time per pass stays ~170 ms
 *   whatever the group size (deleting a group's rows by rowid costs about what the range delete of a
 *   single transaction saves), so small groups are nearly free.
 */
export const COMPACTION_DEFAULTS: CompactionSchedule = {
  minRows: 50_000,
  maxAgeMs: 10_000,
  checkEveryMs: 250,
  errorRetryMs: 5_000,
  limits: { maxRows: 100_000, maxRowsPerTx: 1_500, maxSeriesPerTx: 125 },
  retentionEveryMs: 60_000,
  retentionStepRows: 5_000,
  /** Retention steps in one turn: each is its own short transaction; the rest waits for the next turn. */
  retentionMaxSteps: 20,
  checkpointEveryTx: 4,
};

/**
 * The schedule of a hub whose commits go to the ingest journal (`ingest.journal`, the default): passes
 * of fewer, larger transactions, for fewer bytes written per reading (flash wear). A pass rewrites each
 * series' open chunk, rollup and latest rows once per transaction, at least a page each, and the WAL
 * checkpoint writes those pages again: at 10,000 readings/s (2,000 series) transactions of 1,500 rows
 * and 125 series rewrote ~16 pages per series per pass. The hub's commits do not wait for these
 * transactions: they go to the journal, whose drains skip a turn while one is in flight
 * (WriteGate.tryPriority). Measured with `bench/ingest-wear.ts` (2026-12-04/05, bytes written by the hub
 * per reading at 1,000 / 10,000 / 100,000 readings/s): the defaults 289 / 487 / -; one transaction a pass
 * with the defaults' minRows and maxAgeMs 142 / 231 / -; 100,000-row passes at most 20 s apart 133 / 195
 * / 291, the WAL at most 43.7 MiB. On a database with 6 h of history (schema 7, 2026-12-06), 200,000-row
 * passes wrote 276-278 / 311 bytes at 10,000 / 100,000 readings/s against 340 / 379-401 for 100,000-row
 * ones (each series' open chunk is rewritten half as often), the WAL at most 35.2 MiB. Up to maxSeriesPerTx
 * series a transaction bounds a transaction's WAL
 * (~5 KiB a series), and a checkpoint after each lets the WAL start over before the next.
 */
export const JOURNALED_COMPACTION: CompactionSchedule = {
  ...COMPACTION_DEFAULTS,
  minRows: 200_000,
  maxAgeMs: 20_000,
  limits: { maxRows: 200_000, maxRowsPerTx: 200_000, maxSeriesPerTx: 5_000 },
  checkpointEveryTx: 1,
};

/** WAL size from which every turn checkpoints (SQLite's own autocheckpoint default: 1000 pages of 4 KiB). */
export const WAL_CHECKPOINT_BYTES = 4 * 1024 * 1024;

export interface CompactionSchedule {
  /** Compact once the log holds this many rows... */
  minRows: number;
  /** ...or holds any row and the last pass is this old. */
  maxAgeMs: number;
  /** How often the backlog is looked at. */
  checkEveryMs: number;
  /** Wait after a failed turn. */
  errorRetryMs: number;
  limits: PassLimits;
  retentionEveryMs: number;
  retentionStepRows: number;
  retentionMaxSteps: number;
  /**
   * A pass checkpoints after every this many of its write transactions (and once at its end). Measured at
   * full load (1,000 devices, 8,000 series) with the defaults' small transactions: after each one, the WAL
   * stayed under half its bound and no commit met the lock, where one checkpoint per pass had made ~1
   * commit a second fail and the WAL pass its bound; but pages that several transactions of a pass touch
   * (the log's) were copied once per checkpoint, ~10-40% more bytes written per reading (`npm run bench --
   * ingest`). Every 4th kept the first and gave back part of the second (BENCHMARKS.md, 2026-12-03 20:00).
   */
  checkpointEveryTx: number;
}

/** What the loop reports; the worker posts each one to the main thread. */
export interface CompactionSink {
  pass(result: PassResult, backlog: number): void;
  retention(deleted: number): void;
  error(err: unknown): void;
}

/** Injectable timers, so tests need not wait on wall time. */
export interface LoopTimers {
  now: () => number;
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
}

/**
 * The compaction schedule, the same in the worker and in inline mode: every checkEveryMs it looks at the
 * backlog, runs a pass when due (and at once again while a full pass leaves more), and retention steps
 * every retentionEveryMs. Each turn is synchronous, so stop() between turns never cuts a pass short.
 */
export class CompactionLoop {
  readonly #store: CompactionStore;
  readonly #schedule: CompactionSchedule;
  readonly #sink: CompactionSink;
  readonly #timers: LoopTimers;
  #timer: unknown;
  #running = false;
  #lastPass = 0;
  #lastRetention = 0;

  constructor(store: CompactionStore, schedule: CompactionSchedule, sink: CompactionSink, timers: LoopTimers) {
    this.#store = store;
    this.#schedule = schedule;
    this.#sink = sink;
    this.#timers = timers;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#lastPass = this.#timers.now();
    this.#lastRetention = this.#lastPass;
    this.#arm(this.#schedule.checkEveryMs);
  }

  stop(): void {
    this.#running = false;
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** One pass now, whatever the backlog; reported to the sink like a scheduled one (errors too, then rethrown). */
  runNow(): PassResult {
    try {
      return this.#pass();
    } catch (err) {
      this.#sink.error(err);
      throw err;
    }
  }

  #arm(ms: number): void {
    if (!this.#running) return;
    this.#timer = this.#timers.setTimeout(() => this.#turn(), ms);
  }

  #turn(): void {
    this.#timer = undefined;
    let next = this.#schedule.checkEveryMs;
    try {
      this.#boundWal();
      const s = this.#schedule;
      const backlog = this.#store.backlog();
      if (backlog >= s.minRows || (backlog > 0 && this.#timers.now() - this.#lastPass >= s.maxAgeMs)) {
        const r = this.#pass();
        if (r.rows > 0) this.#store.checkpoint();
        // More waiting than one pass takes, or a conflict to redo: go again without waiting.
        if (r.conflict || r.rows >= s.limits.maxRows) next = 0;
      }
      if (this.#timers.now() - this.#lastRetention >= s.retentionEveryMs) {
        this.#lastRetention = this.#timers.now();
        let deleted = 0;
        for (let i = 0; i < s.retentionMaxSteps; i++) {
          const n = this.#store.retentionStep(s.retentionStepRows);
          deleted += n;
          if (n < s.retentionStepRows) break;
        }
        if (deleted > 0) {
          this.#store.checkpoint();
          this.#sink.retention(deleted);
        }
      }
    } catch (err) {
      // The failed transaction rolled back: its rows are still in the log for the retry.
      this.#sink.error(err);
      next = this.#schedule.errorRetryMs;
      if (REOPEN_CAUSES.has(faultCause(err))) this.#reopen();
    }
    this.#arm(next);
  }

  /**
   * A fresh connection after a fault that can leave this one broken once its cause is gone (a read-only
   * file made writable again): without it compaction, and with it the WAL bound, would stay failed.
   */
  #reopen(): void {
    try {
      this.#store.reopen();
    } catch (err) {
      this.#sink.error(err); // still failing: the next turn tries again (backlog() then throws STORE_CLOSED)
    }
  }

  /**
   * Keeps the WAL bounded whatever compaction does (passes may fail, e.g. SQLITE_FULL, or be far apart): the
   * hub's connection does not checkpoint while compaction runs, and a WAL that is never checkpointed under
   * load grows until the disk is full (measured: a 20.9 MB WAL beside a 4 KB database). A PASSIVE
   * checkpoint once it holds WAL_CHECKPOINT_BYTES lets SQLite restart it from the start; past half of
   * maxWalBytes (a restart never came, readers or writers kept it busy) TRUNCATE forces it back to 0.
   */
  #boundWal(): void {
    const bytes = this.#store.walBytes();
    if (bytes >= this.#store.maxWalBytes / 2) this.#store.checkpoint('TRUNCATE');
    else if (bytes >= WAL_CHECKPOINT_BYTES) this.#store.checkpoint('PASSIVE');
  }

  #pass(): PassResult {
    // A checkpoint every few write transactions copies few enough pages to end between the hub's commits: the
    // WAL then restarts from its start instead of growing by a whole pass (store.ts).
    const r = this.#store.compact(this.#schedule.limits, { afterWrite: (n) => (n % this.#schedule.checkpointEveryTx === 0 ? this.#store.checkpoint() : undefined) });
    this.#lastPass = this.#timers.now();
    this.#sink.pass(r, this.#store.backlog());
    return r;
  }
}
