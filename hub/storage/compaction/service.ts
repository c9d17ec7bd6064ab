import type { Logger } from '../../logger.js';
import type { HubStore } from '../hub-store.js';
import { CompactionRunner, type CompactionRunnerOptions, type CompactionStats } from './runner.js';

export interface CompactionServiceOptions {
  store: HubStore;
  log: Logger;
  /** The clock retention cuts by. */
  now: () => number;
  /** The database file compaction opens its own connection to: dbPath(config). Default: the store's. */
  dbPath?: string;
  /** Where and how often compaction runs (default: a worker thread when built, see CompactionRunner). */
  compaction?: Pick<CompactionRunnerOptions, 'mode' | 'schedule' | 'workerUrl'>;
}

/**
 * The hub's compaction into chunks and rollups, and retention, off the ingest path: a CompactionRunner
 * (a worker thread with a connection of its own, so the main thread spends no CPU on them) whose gate
 * the store's commits then go before. Constructing it does no I/O; start() does.
 */
export class CompactionService {
  readonly #store: HubStore;
  readonly #log: Logger;
  readonly #opts: CompactionServiceOptions;
  #runner: CompactionRunner | undefined;
  /** The compaction fault in progress: logged once at error level, summarised when a pass succeeds again. */
  #fault: { code: string | undefined; since: number; failures: number } | undefined;
  #starting: Promise<void> | undefined;

  constructor(opts: CompactionServiceOptions) {
    this.#store = opts.store;
    this.#log = opts.log;
    this.#opts = opts;
  }

  /** Starts compaction in the background: a failure to start is logged, not thrown (readings wait in the log). */
  start(): void {
    if (this.#runner) return;
    const settings = this.#store.settings;
    const runner = new CompactionRunner({
      ...this.#opts.compaction,
      path: this.#opts.dbPath ?? settings.path,
      retention: settings.retention,
      synchronous: settings.synchronous,
      maxWalBytes: settings.maxWalBytes,
      journaled: settings.journaled,
      now: this.#opts.now,
    });
    runner.on('error', (e) => this.#onError(e.code, e.message));
    runner.on('pass', () => this.#onRecovered());
    this.#runner = runner;
    this.#starting = runner.start().then(
      () => {
        if (this.#runner === runner) this.#store.attachCompaction(runner.gate);
        this.#log.debug({ mode: runner.stats().mode }, 'compaction started');
      },
      (err: Error) => this.#log.error({ err: err.message }, 'compaction could not start; readings stay in the log'),
    );
  }

  /** Stops compaction after its current pass; resolves once its connection (and worker) is closed. */
  async stop(): Promise<void> {
    const runner = this.#runner;
    this.#runner = undefined;
    if (!runner) return;
    // runner.stop() closes an inline loop at once, before the first await: hub.stop() may not await this.
    this.#store.attachCompaction(undefined);
    const stopped = runner.stop();
    await this.#starting;
    await stopped;
  }

  #onError(code: string | undefined, message: string): void {
    if (this.#fault) {
      this.#fault.failures += 1;
      return;
    }
    this.#fault = { code, since: this.#opts.now(), failures: 1 };
    this.#log.error({ code, err: message }, 'compaction failed; its rows stay in the log and it retries (logged once until it succeeds)');
  }

  #onRecovered(): void {
    const fault = this.#fault;
    if (!fault) return;
    this.#fault = undefined;
    this.#log.warn({ code: fault.code, failures: fault.failures, durationMs: this.#opts.now() - fault.since }, 'compaction succeeds again');
  }

  /** Compaction totals for /metrics and /api/hub; undefined before start() and after stop(). */
  stats(): CompactionStats | undefined {
    return this.#runner?.stats();
  }
}
