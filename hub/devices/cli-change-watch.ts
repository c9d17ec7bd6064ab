import type { Logger } from '../logger.js';
import { isThenable } from '../storage/maybe-promise.js';
import type { DeviceRegistry } from './device-registry.js';

const WATCH_EVERY_MS = 1000;
/** Without a data_version (PostgreSQL), how often the devices are read again: the CLI and other hubs change them. */
export const RECONCILE_EVERY_MS = 5000;

/** What the watch reads of the SQLite store (HubStore). */
export interface SqliteChangeCounters {
  dataVersion(): number;
  deviceChangeVersion(): number;
}

export interface CliChangeWatchOptions {
  /** SQLite's PRAGMA data_version and device change counter; none (PostgreSQL): the registry reconciles every RECONCILE_EVERY_MS. */
  store: SqliteChangeCounters | undefined;
  registry: DeviceRegistry;
  log: Logger;
  now: () => number;
  /** Users changed by `hearth user` in another process (users.json, not SQLite): checked on the same tick. */
  users?: { reconcileUsers(): number };
}

/**
 * Notices CLI changes: the CLI writes devices straight to the database, on a connection of its own.
 * PRAGMA data_version, polled on the store's connection, tells that another connection committed; the
 * compaction worker does so all the time, so the device change counter (migration 0005) then tells whether
 * devices changed, and only then does the registry reconcile (re-reading every device).
 */
export class CliChangeWatch {
  readonly #store: SqliteChangeCounters | undefined;
  readonly #registry: DeviceRegistry;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #users: { reconcileUsers(): number } | undefined;
  #watch: NodeJS.Timeout | undefined;
  #dataVersion = 0;
  #deviceVersion = 0;
  #lastReconcile = 0;
  #reconciling = false;

  constructor(opts: CliChangeWatchOptions) {
    this.#store = opts.store;
    this.#registry = opts.registry;
    this.#log = opts.log;
    this.#now = opts.now;
    this.#users = opts.users;
  }

  /** Starts the data_version watch. */
  start(): void {
    if (this.#watch) return;
    this.#dataVersion = this.#store?.dataVersion() ?? 0;
    this.#deviceVersion = this.#store?.deviceChangeVersion() ?? 0;
    this.#lastReconcile = this.#now();
    this.#watch = setInterval(() => this.check(), WATCH_EVERY_MS);
    this.#watch.unref();
  }

  /** Stops the watch. */
  stop(): void {
    if (this.#watch) clearInterval(this.#watch);
    this.#watch = undefined;
  }

  /** One tick of the watch: devices changed in SQLite, then users changed in users.json. */
  check(): void {
    this.#checkDataVersion();
    try {
      this.#users?.reconcileUsers();
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, 'checking for user changes failed; will retry');
    }
  }

  /** The CLI writes devices straight to the database; data_version, then the device counter, tell us when. */
  #checkDataVersion(): void {
    const failed = (err: unknown) => this.#log.error({ err: (err as Error).message }, 'checking for CLI changes failed; will retry');
    try {
      if (this.#store) {
        const version = this.#store.dataVersion();
        if (version === this.#dataVersion) return;
        this.#dataVersion = version;
        const devices = this.#store.deviceChangeVersion();
        if (devices === this.#deviceVersion) return;
        this.#deviceVersion = devices;
      } else if (this.#reconciling || this.#now() - this.#lastReconcile < RECONCILE_EVERY_MS) {
        return;
      }
      this.#lastReconcile = this.#now();
      const done = this.#registry.reconcile(this.#now());
      if (isThenable(done)) {
        this.#reconciling = true;
        done.catch(failed).finally(() => (this.#reconciling = false));
      }
    } catch (err) {
      failed(err);
    }
  }
}
