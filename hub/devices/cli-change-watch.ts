import type { Logger } from '../logger.js';
import { isThenable } from '../storage/maybe-promise.js';
import type { DeviceChanges } from '../storage/pg/pg-store.js';
import { jittered } from '../timers.js';
import type { DeviceRegistry } from './device-registry.js';

const WATCH_EVERY_MS = 1000;
/**
 * On PostgreSQL, how often every device is read again besides the change log's answers each WATCH_EVERY_MS:
 * a safety net (removals are pruned after a week), cheap at this rate even for 100,000 devices.
 */
export const RECONCILE_EVERY_MS = 10 * 60_000;

/** What the watch reads of the SQLite store (HubStore). */
export interface SqliteChangeCounters {
  dataVersion(): number;
  deviceChangeVersion(): number;
}

/** What the watch reads of the PostgreSQL store (PgStore): the device change log of migration 7. */
export interface PgDeviceChanges {
  deviceChangesSince(horizon: string | undefined): Promise<DeviceChanges>;
}

export interface CliChangeWatchOptions {
  /** SQLite's PRAGMA data_version and device change counter. */
  store: SqliteChangeCounters | undefined;
  /** PostgreSQL (without `store`): the devices the CLI and other hubs changed, asked every WATCH_EVERY_MS. */
  changes?: PgDeviceChanges;
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
 * devices changed, and only then does the registry reconcile (re-reading every device). On PostgreSQL,
 * where other hubs change devices too, the change log answers only the devices changed since the last look.
 */
export class CliChangeWatch {
  readonly #store: SqliteChangeCounters | undefined;
  readonly #registry: DeviceRegistry;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #users: { reconcileUsers(): number } | undefined;
  readonly #changes: PgDeviceChanges | undefined;
  /** The change log's horizon for the next look; undefined until the first. */
  #horizon: string | undefined;
  #watch: NodeJS.Timeout | undefined;
  #dataVersion = 0;
  #deviceVersion = 0;
  /** On PostgreSQL, when the next full re-read is due. */
  #nextFull = 0;
  #looking: Promise<void> | undefined;

  constructor(opts: CliChangeWatchOptions) {
    this.#store = opts.store;
    this.#registry = opts.registry;
    this.#log = opts.log;
    this.#now = opts.now;
    this.#users = opts.users;
    this.#changes = opts.changes;
  }

  /** Starts the data_version watch. */
  start(): void {
    if (this.#watch) return;
    this.#dataVersion = this.#store?.dataVersion() ?? 0;
    this.#deviceVersion = this.#store?.deviceChangeVersion() ?? 0;
    this.#watch = setInterval(() => this.check(), WATCH_EVERY_MS);
    this.#watch.unref();
  }

  /** Stops the watch; on PostgreSQL, once a look in flight has ended (the store closes after). */
  async stop(): Promise<void> {
    if (this.#watch) clearInterval(this.#watch);
    this.#watch = undefined;
    await this.#looking;
  }

  /**
   * One tick of the watch: devices changed in SQLite (or PostgreSQL's change log), then users changed in
   * users.json. On PostgreSQL, answers the look in flight (it never rejects).
   */
  check(): Promise<void> | undefined {
    if (this.#changes) this.#checkChangeLog(this.#changes);
    else this.#checkDataVersion();
    try {
      this.#users?.reconcileUsers();
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, 'checking for user changes failed; will retry');
    }
    return this.#looking;
  }

  /**
   * One look at the change log, none while one is in flight: the first takes the horizon and re-reads every
   * device (the registry loaded them before the watch started), later ones take in what changed since.
   */
  #checkChangeLog(changes: PgDeviceChanges): void {
    if (this.#looking) return;
    const look = async () => {
      const full = this.#horizon === undefined || this.#now() >= this.#nextFull;
      const delta = await changes.deviceChangesSince(full ? undefined : this.#horizon);
      if (full) {
        // Give or take a fifth: hubs started together do not all re-read at once.
        this.#nextFull = this.#now() + jittered(RECONCILE_EVERY_MS);
        await this.#registry.reconcile(this.#now());
      } else {
        this.#registry.applyChanges(delta.changed, delta.removed);
      }
      this.#horizon = delta.horizon;
    };
    this.#looking = look()
      .catch((err: Error) => this.#log.error({ err: err.message }, 'checking for device changes failed; will retry'))
      .finally(() => (this.#looking = undefined));
  }

  /** The CLI writes devices straight to the database; data_version, then the device counter, tell us when. */
  #checkDataVersion(): void {
    const failed = (err: unknown) => this.#log.error({ err: (err as Error).message }, 'checking for CLI changes failed; will retry');
    try {
      if (!this.#store) return;
      const version = this.#store.dataVersion();
      if (version === this.#dataVersion) return;
      this.#dataVersion = version;
      const devices = this.#store.deviceChangeVersion();
      if (devices === this.#deviceVersion) return;
      this.#deviceVersion = devices;
      const done = this.#registry.reconcile(this.#now());
      if (isThenable(done)) done.catch(failed);
    } catch (err) {
      failed(err);
    }
  }
}
