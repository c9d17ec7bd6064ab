import type { Statement } from 'better-sqlite3';
import { statSync } from 'node:fs';
import { DEFAULT_MAX_WAL_BYTES, openDatabase, type Db } from '../database.js';
import { StoreError } from '../errors.js';
import { DEFAULT_RETENTION, Retention } from '../retention.js';
import type { RetentionPolicy, SynchronousMode } from '../types.js';
import type { WriteGate } from '../write-gate.js';
import { CompactionPass, type PassHooks, type PassLimits, type PassResult } from './pass.js';

export interface CompactionStoreOptions {
  /** The hub's database file; HubStore has opened (and migrated) it already. */
  path: string;
  retention?: Partial<RetentionPolicy>;
  /** Clock for retention cut-offs; Date.now by default. */
  now?: () => number;
  synchronous?: SynchronousMode;
  /** Shared with the hub's HubStore (attachCompaction): its commits go before our write transactions. */
  gate?: WriteGate;
  /** Bound of the WAL file (config `db.maxWalBytes`). */
  maxWalBytes?: number;
}

interface Parts {
  db: Db;
  pass: CompactionPass;
  retention: Retention;
  backlog: Statement<[], number>;
}

/**
 * The compaction worker's own connection to the hub's database: two-phase compaction passes, bounded
 * retention steps and the log backlog, nothing else. WAL lets it read while the hub writes; its write
 * transactions are short (see CompactionPass). Constructing it does no I/O; open() does.
 */
export class CompactionStore {
  readonly #path: string;
  readonly #retention: RetentionPolicy;
  readonly #now: () => number;
  readonly #synchronous: SynchronousMode;
  readonly #gate: WriteGate | undefined;
  readonly #maxWalBytes: number;
  #parts: Parts | undefined;

  constructor(opts: CompactionStoreOptions) {
    this.#path = opts.path;
    this.#retention = { ...DEFAULT_RETENTION, ...opts.retention };
    this.#now = opts.now ?? Date.now;
    this.#synchronous = opts.synchronous ?? 'NORMAL';
    this.#gate = opts.gate;
    this.#maxWalBytes = opts.maxWalBytes ?? DEFAULT_MAX_WAL_BYTES;
  }

  /** Bound of the WAL file, bytes. */
  get maxWalBytes(): number {
    return this.#maxWalBytes;
  }

  /** Opens the database (migrating it if the hub has not). */
  open(): void {
    if (this.#parts) return;
    const db = openDatabase(this.#path, this.#synchronous, { maxWalBytes: this.#maxWalBytes });
    try {
      // Checkpoints run from checkpoint(), between passes: an automatic one would run inside COMMIT,
      // while the gate still holds the hub's commits back.
      db.pragma('wal_autocheckpoint = 0');
      this.#parts = {
        db,
        pass: new CompactionPass(db, this.#gate),
        retention: new Retention(db, this.#retention, this.#now),
        // An upper bound in two index probes: rows of removed devices leave holes until compaction drops them.
        backlog: db.prepare('SELECT coalesce(max(rowid) - min(rowid) + 1, 0) FROM log').pluck() as unknown as Statement<[], number>,
      };
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /**
   * Closes and opens the connection again: after SQLITE_READONLY, CANTOPEN, IOERR or FULL it can stay broken
   * (opened read-only, a dead file handle) when the cause is gone. Throws what open() throws; the store is
   * then closed until the next reopen().
   */
  reopen(): void {
    this.close();
    this.open();
  }

  /** Closes the connection; safe to call twice or without open(). */
  close(): void {
    const parts = this.#parts;
    this.#parts = undefined;
    parts?.db.close();
  }

  get #p(): Parts {
    if (!this.#parts) throw new StoreError('HUB_ERR_STORE_CLOSED', `${this.#path} is not open`);
    return this.#parts;
  }

  /** One compaction pass (see CompactionPass.run). */
  compact(limits: PassLimits, hooks?: PassHooks): PassResult {
    return this.#p.pass.run(limits, hooks);
  }

  /** Deletes at most maxRows expired rows in one transaction; returns how many. */
  retentionStep(maxRows: number): number {
    const { retention } = this.#p;
    return this.#gate ? this.#gate.yielding(() => retention.step(maxRows)) : retention.step(maxRows);
  }

  /**
   * PASSIVE copies what it can of the WAL into the database file without taking the write lock; TRUNCATE
   * waits (busy_timeout) for the hub's commit in flight, holds its next ones off (they meet SQLITE_BUSY and
   * are retried), copies everything and truncates the file to 0 bytes. True if every frame was copied.
   *
   * Both go through the gate, as a write transaction does: PASSIVE, too, starts only between the hub's
   * commits and holds the next ones back while it copies (up to the gate's wait limit). A copy that the hub's
   * commits kept appending to seldom caught up with the WAL's end, so SQLite seldom restarted the WAL from its
   * start; it grew to half of maxWalBytes and TRUNCATE held the hub's commits off for the whole copy: at full
   * load about once a second, each a storage fault with acknowledgements paused, and the WAL still passed its
   * bound (74 MiB of 64). A copy that reaches the end lets the hub's next commit restart the WAL; the loop
   * checkpoints every few of a pass's write transactions (loop.ts), so that each copy is short.
   */
  checkpoint(mode: 'PASSIVE' | 'TRUNCATE' = 'PASSIVE'): boolean {
    const { db } = this.#p;
    const run = () => db.pragma(`wal_checkpoint(${mode})`) as Array<{ busy: number; log: number; checkpointed: number }>;
    const [r] = this.#gate ? this.#gate.yielding(run) : run();
    return r !== undefined && r.busy === 0 && r.checkpointed === r.log;
  }

  /** Size of the WAL file now, bytes (0 when there is none). */
  walBytes(): number {
    try {
      return statSync(`${this.#path}-wal`).size;
    } catch {
      return 0;
    }
  }

  /** Log rows waiting for compaction (an upper bound, exact when no device was removed meanwhile). */
  backlog(): number {
    return this.#p.backlog.get()!;
  }
}
