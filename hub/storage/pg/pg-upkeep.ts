import type { Logger } from '../../logger.js';
import type { StoreStats } from '../types.js';
import type { PgStore } from './pg-store.js';

/**
 * How often each task runs: rollups of closed minutes about as often as SQLite's compaction passes;
 * retention each minute (dropping whole day partitions is cheap, the events and rollups it deletes are
 * bounded); the stats that /metrics and /api/hub show (a count of the readings: not per scrape).
 */
export const PG_UPKEEP_EVERY_MS = { rollups: 5_000, retention: 60_000, stats: 30_000 } as const;
/** Retention steps per run at most, so one run never holds the pool long. */
const RETENTION_STEPS = 20;

export interface PgUpkeepOptions {
  store: Pick<PgStore, 'rollupStep' | 'retentionStep' | 'stats'>;
  log: Logger;
  /** Default PG_UPKEEP_EVERY_MS (tests run them faster). */
  everyMs?: { rollups: number; retention: number; stats: number };
}

/**
 * What PostgreSQL needs instead of SQLite's compaction worker, WAL checkpoints and write gate: rollups of
 * closed minutes, retention (dropping day partitions), the day partitions ahead (made by retentionStep) and
 * the storage stats, each on a timer of its own, never on the commit path. A failure is logged once until
 * the task succeeds again; constructing it does no I/O.
 */
export class PgUpkeep {
  readonly #o: PgUpkeepOptions;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #failing = new Set<string>();
  readonly #running = new Set<Promise<void>>();
  #stats: StoreStats = { bytes: 0, pendingLogRows: 0, chunks: 0, storedReadings: 0 };
  #retentionDeleted = 0;

  constructor(o: PgUpkeepOptions) {
    this.#o = o;
  }

  /** Counts the stats once (so /metrics has them from the start), then runs every task on its timer. */
  async start(): Promise<void> {
    if (this.#timers.length > 0) return;
    const every = this.#o.everyMs ?? PG_UPKEEP_EVERY_MS;
    await this.#run('stats', () => this.#refreshStats());
    this.#every(every.rollups, 'rollups', async () => void (await this.#o.store.rollupStep()));
    this.#every(every.retention, 'retention', () => this.#retention());
    this.#every(every.stats, 'stats', () => this.#refreshStats());
  }

  /** Stops the timers and waits for a task still running (the pool closes after this). */
  async stop(): Promise<void> {
    for (const t of this.#timers.splice(0)) clearInterval(t);
    await Promise.all(this.#running);
  }

  /** The last counted storage stats (bytes of the database, readings stored, readings partitions as `chunks`). */
  get stats(): StoreStats {
    return this.#stats;
  }

  /** What /api/hub shows where SQLite shows its compaction: retention's removals so far. */
  info(): { engine: 'postgresql'; retentionDeleted: number } {
    return { engine: 'postgresql', retentionDeleted: this.#retentionDeleted };
  }

  async #retention(): Promise<void> {
    for (let i = 0; i < RETENTION_STEPS; i++) {
      const removed = await this.#o.store.retentionStep();
      this.#retentionDeleted += removed;
      if (removed === 0) return;
    }
  }

  async #refreshStats(): Promise<void> {
    this.#stats = await this.#o.store.stats();
  }

  #every(ms: number, name: string, task: () => Promise<void>): void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return; // a slow database: the next tick comes when this one is done
      busy = true;
      void this.#run(name, task).finally(() => (busy = false));
    }, ms);
    timer.unref();
    this.#timers.push(timer);
  }

  #run(name: string, task: () => Promise<void>): Promise<void> {
    const run = task().then(
      () => {
        if (this.#failing.delete(name)) this.#o.log.warn({ task: name }, 'PostgreSQL upkeep succeeds again');
      },
      (err: Error) => {
        if (this.#failing.has(name)) return;
        this.#failing.add(name);
        this.#o.log.error({ task: name, err: err.message }, 'PostgreSQL upkeep failed; retrying on its timer (logged once until it succeeds)');
      },
    );
    this.#running.add(run);
    return run.finally(() => this.#running.delete(run));
  }
}
