import type { Logger } from '../logger.js';
import { isThenable } from '../storage/maybe-promise.js';
import type { MaybePromise } from '../storage/store-contract.js';

/**
 * The order of FirmwareService's writes and reads. SQLite (`write` given: the store's busy retry) runs each at
 * once, as the code reads. PostgreSQL answers later, so writes queue one after another (an update's saves land
 * in the order they were made) and a read waits for the writes queued before it: the scheduler never reads
 * an update older than the state it last saved.
 */
export class FirmwareWrites {
  readonly #sync: (<T>(fn: () => T) => T) | undefined;
  readonly #log: Logger;
  /** PostgreSQL: the end of the queue. */
  #tail: Promise<void> = Promise.resolve();

  constructor(sync: (<T>(fn: () => T) => T) | undefined, log: Logger) {
    this.#sync = sync;
    this.#log = log;
  }

  /** True on SQLite, where every answer is the value itself. */
  get atOnce(): boolean {
    return this.#sync !== undefined;
  }

  /** A write: at once through the store (SQLite), or after the writes before it (PostgreSQL). */
  write<T>(fn: () => MaybePromise<T>): MaybePromise<T> {
    if (this.#sync) return this.#sync(fn);
    const done = this.#tail.then(fn);
    this.#tail = done.then(
      () => undefined,
      () => undefined,
    );
    return done;
  }

  /** A write nobody waits for: on PostgreSQL a failure is logged (SQLite throws it to the caller, as ever). */
  fire(fn: () => MaybePromise<void>): void {
    const done = this.write(fn);
    if (isThenable(done)) done.catch((err) => this.#log.error({ err: (err as Error).message }, 'saving a firmware update failed'));
  }

  /** A read after every write queued before it (PostgreSQL); at once on SQLite. */
  read<T>(fn: () => MaybePromise<T>): MaybePromise<T> {
    return this.#sync ? fn() : this.#tail.then(fn);
  }

  /** Resolves once the writes queued so far are done (undefined on SQLite: they are). */
  settled(): Promise<void> | undefined {
    return this.#sync ? undefined : this.#tail;
  }
}
