import type { DeviceRegistry } from './device-registry.js';
import type { Logger } from './logger.js';
import type { HubStore } from './storage/hub-store.js';

// Compaction must keep up with ingest (100k readings/s): frequent short turns rather than rare long ones.
const COMPACT_EVERY_MS = 250;
const RETENTION_EVERY_MS = 60_000;
const WATCH_EVERY_MS = 1000;
/** Longest one maintenance turn may hold the event loop, so ingest never stalls behind it. */
const TURN_BUDGET_MS = 40;

/** Background work off the ingest path: compaction into chunks and rollups, retention, noticing CLI changes. */
export class Maintenance {
  readonly #store: HubStore;
  readonly #registry: DeviceRegistry;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #timers: NodeJS.Timeout[] = [];
  #dataVersion = 0;

  constructor(opts: { store: HubStore; registry: DeviceRegistry; log: Logger; now: () => number }) {
    this.#store = opts.store;
    this.#registry = opts.registry;
    this.#log = opts.log;
    this.#now = opts.now;
  }

  start(): void {
    this.#dataVersion = this.#store.dataVersion();
    this.#every(COMPACT_EVERY_MS, () => this.#inTurns((n) => this.#store.compactStep(n), 20_000));
    this.#every(RETENTION_EVERY_MS, () => this.#inTurns((n) => this.#store.retentionStep(n), 5_000));
    this.#every(WATCH_EVERY_MS, () => this.#watch());
  }

  stop(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers.length = 0;
  }

  #every(ms: number, fn: () => void): void {
    const timer = setInterval(() => {
      try {
        fn();
      } catch (err) {
        this.#log.error({ err: (err as Error).message }, 'maintenance step failed; will retry');
      }
    }, ms);
    timer.unref();
    this.#timers.push(timer);
  }

  /** Runs steps until there is no more work or the turn's time budget is spent. */
  #inTurns(step: (max: number) => number, size: number): void {
    const started = performance.now();
    while (performance.now() - started < TURN_BUDGET_MS) {
      if (step(size) < size) return;
    }
  }

  /** The CLI writes devices straight to the database; PRAGMA data_version tells us when. */
  #watch(): void {
    const version = this.#store.dataVersion();
    if (version === this.#dataVersion) return;
    this.#dataVersion = version;
    this.#registry.reconcile(this.#now());
  }
}
