import type { DeviceRegistry } from './device-registry.js';
import type { Logger } from './logger.js';
import { CompactionRunner, type CompactionRunnerOptions, type CompactionStats } from './storage/compaction/runner.js';
import type { HubStore } from './storage/hub-store.js';

const WATCH_EVERY_MS = 1000;

export interface MaintenanceOptions {
  store: HubStore;
  registry: DeviceRegistry;
  log: Logger;
  now: () => number;
  /** The database file compaction opens its own connection to: dbPath(config). Default: the store's. */
  dbPath?: string;
  /** Where and how often compaction runs (default: a worker thread when built, see CompactionRunner). */
  compaction?: Pick<CompactionRunnerOptions, 'mode' | 'schedule' | 'workerUrl'>;
}

/**
 * Background work off the ingest path. Compaction into chunks and rollups, and retention, run in a
 * worker thread on a connection of their own (CompactionRunner), so the main thread spends no CPU on
 * them; noticing CLI changes (PRAGMA data_version) stays here, on the store's connection.
 */
export class Maintenance {
  readonly #store: HubStore;
  readonly #registry: DeviceRegistry;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #opts: MaintenanceOptions;
  #runner: CompactionRunner | undefined;
  #starting: Promise<void> | undefined;
  #watch: NodeJS.Timeout | undefined;
  #dataVersion = 0;

  constructor(opts: MaintenanceOptions) {
    this.#store = opts.store;
    this.#registry = opts.registry;
    this.#log = opts.log;
    this.#now = opts.now;
    this.#opts = opts;
  }

  /** Starts the data_version watch and compaction (in the background: a failure to start is logged). */
  start(): void {
    if (this.#watch) return;
    this.#dataVersion = this.#store.dataVersion();
    this.#watch = setInterval(() => this.#checkDataVersion(), WATCH_EVERY_MS);
    this.#watch.unref();
    const settings = this.#store.settings;
    const runner = new CompactionRunner({
      ...this.#opts.compaction,
      path: this.#opts.dbPath ?? settings.path,
      retention: settings.retention,
      synchronous: settings.synchronous,
      now: this.#now,
    });
    runner.on('error', (e) => this.#log.error({ code: e.code, err: e.message }, 'compaction failed; its rows stay in the log and it retries'));
    this.#runner = runner;
    this.#starting = runner.start().then(
      () => {
        if (this.#runner === runner) this.#store.attachCompaction(runner.gate);
        this.#log.debug({ mode: runner.stats().mode }, 'compaction started');
      },
      (err: Error) => this.#log.error({ err: err.message }, 'compaction could not start; readings stay in the log'),
    );
  }

  /** Stops the watch, then compaction after its current pass; resolves once its connection is closed. */
  async stop(): Promise<void> {
    if (this.#watch) clearInterval(this.#watch);
    this.#watch = undefined;
    const runner = this.#runner;
    this.#runner = undefined;
    if (!runner) return;
    // runner.stop() closes an inline loop at once, before the first await: hub.stop() may not await this.
    this.#store.attachCompaction(undefined);
    const stopped = runner.stop();
    await this.#starting;
    await stopped;
  }

  /** Compaction totals for /metrics and /api/hub; undefined before start(). */
  stats(): CompactionStats | undefined {
    return this.#runner?.stats();
  }

  /** The CLI writes devices straight to the database; PRAGMA data_version tells us when. */
  #checkDataVersion(): void {
    try {
      const version = this.#store.dataVersion();
      if (version === this.#dataVersion) return;
      this.#dataVersion = version;
      this.#registry.reconcile(this.#now());
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, 'maintenance step failed; will retry');
    }
  }
}
