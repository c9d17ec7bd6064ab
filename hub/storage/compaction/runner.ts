import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { StoreErrorCode } from '../errors.js';
import type { RetentionPolicy, SynchronousMode } from '../types.js';
import { WriteGate } from '../write-gate.js';
import { COMPACTION_DEFAULTS, CompactionLoop, JOURNALED_COMPACTION, type CompactionSchedule, type LoopTimers } from './loop.js';
import { errorInfo, type CompactionWorkerInit, type ErrorInfo, type FromCompactionWorker, type ToCompactionWorker } from './messages.js';
import type { PassResult } from './pass.js';
import { CompactionStore } from './store.js';

/** Where compaction runs: a worker thread (the hub), the calling thread (tests, benchmarks), or worker when built. */
export type CompactionMode = 'worker' | 'inline' | 'auto';

export interface CompactionRunnerOptions {
  /** The hub's database file, already opened and migrated by its HubStore. */
  path: string;
  synchronous?: SynchronousMode;
  /** Bound of the WAL file (config `db.maxWalBytes`), kept by the compaction connection's checkpoints. */
  maxWalBytes?: number;
  retention?: Partial<RetentionPolicy>;
  /** Overrides of the base schedule, field by field. */
  schedule?: Partial<Omit<CompactionSchedule, 'limits'>> & { limits?: Partial<CompactionSchedule['limits']> };
  /** Whether the hub's commits go to the ingest journal: the base schedule is then JOURNALED_COMPACTION. */
  journaled?: boolean;
  /**
   * 'auto' (default) runs the worker when its compiled file sits next to this module (dist/), inline
   * otherwise: under jest this module is TypeScript source, which a worker thread cannot load.
   */
  mode?: CompactionMode;
  /** The worker entry; default ./worker.js next to this module. */
  workerUrl?: URL;
  /** Inline mode only: the schedule's timers (a worker uses its own). */
  timers?: LoopTimers;
  /** Inline mode only: the clock retention cuts by (a worker uses Date.now). */
  now?: () => number;
  /** Longest stop() waits for the worker before terminating it. */
  stopTimeoutMs?: number;
}

/** Running totals for /metrics and /api/hub. */
export interface CompactionStats {
  mode: 'worker' | 'inline';
  running: boolean;
  passes: number;
  rowsMoved: number;
  transactions: number;
  /** Passes cut short because a device was removed or a series retyped meanwhile (redone at once). */
  conflicts: number;
  /** Longest write transaction of the last pass and of all passes, ms (the hub's commits may wait this long). */
  lastWriteMs: number;
  maxWriteMs: number;
  /** Read phase of the last pass, ms (worker time, no lock held). */
  lastReadMs: number;
  lastPassAt: number | undefined;
  /** Log rows waiting, as of the last pass or start. */
  backlog: number;
  retentionDeleted: number;
  errors: number;
  lastError: ErrorInfo | undefined;
}

/** Typed notifications. */
export interface CompactionEvents {
  pass: (result: PassResult) => void;
  error: (error: ErrorInfo) => void;
}

const STOP_TIMEOUT_MS = 10_000;
const WORKER_EXIT: StoreErrorCode = 'HUB_ERR_COMPACTION_WORKER_EXIT';

/**
 * Runs compaction and retention away from the hub's main thread: a worker thread with its own database
 * connection (see worker.ts), or the same loop inline. The hub's main thread then spends no
 * CPU on compaction; it only waits, in commit(), while a short write transaction holds the lock.
 * Constructing it does no I/O; start() does.
 */
export class CompactionRunner {
  /** Hand this to the hub's HubStore.attachCompaction(): its commits then go before compaction's writes. */
  readonly gate = new WriteGate();
  readonly #opts: CompactionRunnerOptions;
  readonly #schedule: CompactionSchedule;
  readonly #listeners: { [K in keyof CompactionEvents]: Set<CompactionEvents[K]> } = { pass: new Set(), error: new Set() };
  readonly #stats: CompactionStats;
  readonly #pending = new Map<number, { resolve: (r: PassResult) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #lastRun: PassResult | undefined;
  #worker: Worker | undefined;
  #exited: Promise<void> | undefined;
  #inline: { store: CompactionStore; loop: CompactionLoop } | undefined;
  #restart: NodeJS.Timeout | undefined;

  constructor(opts: CompactionRunnerOptions) {
    this.#opts = opts;
    const s = opts.schedule ?? {};
    const base = opts.journaled ? JOURNALED_COMPACTION : COMPACTION_DEFAULTS;
    this.#schedule = { ...base, ...s, limits: { ...base.limits, ...s.limits } };
    this.#stats = {
      mode: 'inline', running: false, passes: 0, rowsMoved: 0, transactions: 0, conflicts: 0, lastWriteMs: 0, maxWriteMs: 0,
      lastReadMs: 0, lastPassAt: undefined, backlog: 0, retentionDeleted: 0, errors: 0, lastError: undefined,
    };
  }

  /** Registers a listener; returns a function that removes it. */
  on<K extends keyof CompactionEvents>(event: K, fn: CompactionEvents[K]): () => void {
    this.#listeners[event].add(fn);
    return () => this.#listeners[event].delete(fn);
  }

  /** Starts the worker (resolving once its connection is open; rejecting if it cannot open) or the inline loop. */
  async start(): Promise<void> {
    if (this.#stats.running) return;
    const url = this.#opts.workerUrl ?? new URL('./worker.js', import.meta.url);
    const mode = this.#opts.mode ?? 'auto';
    const useWorker = mode === 'worker' || (mode === 'auto' && url.protocol === 'file:' && existsSync(fileURLToPath(url)));
    this.#stats.mode = useWorker ? 'worker' : 'inline';
    this.#stats.running = true;
    try {
      if (useWorker) await this.#startWorker(url);
      else this.#startInline();
    } catch (err) {
      this.#stats.running = false;
      clearTimeout(this.#restart);
      this.#restart = undefined;
      throw err;
    }
  }

  /** Stops after the current pass and closes the compaction connection; resolves when it is closed. */
  async stop(): Promise<void> {
    this.#stats.running = false;
    clearTimeout(this.#restart);
    this.#restart = undefined;
    const inline = this.#inline;
    this.#inline = undefined;
    if (inline) {
      inline.loop.stop();
      inline.store.close();
    }
    const worker = this.#worker;
    if (!worker) return;
    this.#worker = undefined;
    worker.postMessage({ type: 'stop' } satisfies ToCompactionWorker);
    const timeout = setTimeout(() => void worker.terminate(), this.#opts.stopTimeoutMs ?? STOP_TIMEOUT_MS);
    await this.#exited;
    clearTimeout(timeout);
  }

  /** A snapshot of the running totals. */
  stats(): CompactionStats {
    return { ...this.#stats };
  }

  /** Runs one pass now, whatever the backlog (tests, the CLI); rejects with the pass's error. */
  runNow(): Promise<PassResult> {
    if (this.#inline) {
      try {
        return Promise.resolve(this.#inline.loop.runNow());
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    const worker = this.#worker;
    if (!worker) return Promise.reject(new Error('compaction is not running'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ type: 'run', id } satisfies ToCompactionWorker);
    });
  }

  #startInline(): void {
    const timers = this.#opts.timers ?? {
      now: Date.now,
      setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms).unref(),
      clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout),
    };
    const store = new CompactionStore({
      path: this.#opts.path,
      synchronous: this.#opts.synchronous,
      retention: this.#opts.retention,
      maxWalBytes: this.#opts.maxWalBytes,
      now: this.#opts.now,
      gate: this.gate,
    });
    store.open();
    const loop = new CompactionLoop(
      store,
      this.#schedule,
      {
        pass: (result, backlog) => this.#onPass(result, backlog),
        retention: (deleted) => (this.#stats.retentionDeleted += deleted),
        error: (err) => this.#onError(errorInfo(err)),
      },
      timers,
    );
    this.#inline = { store, loop };
    this.#stats.backlog = store.backlog();
    loop.start();
  }

  async #startWorker(url: URL): Promise<void> {
    const init: CompactionWorkerInit = {
      path: this.#opts.path,
      synchronous: this.#opts.synchronous ?? 'NORMAL',
      maxWalBytes: this.#opts.maxWalBytes,
      retention: this.#opts.retention ?? {},
      schedule: this.#schedule,
      gate: this.gate.buffer,
    };
    const worker = new Worker(url, { workerData: init, name: 'hearth-compaction' });
    this.#worker = worker;
    let ready: ((err?: Error) => void) | undefined;
    const started = new Promise<void>((resolve, reject) => (ready = (err) => (err ? reject(err) : resolve())));
    this.#exited = new Promise((resolve) => {
      worker.on('exit', (code) => {
        this.gate.reset(); // it may have died inside a transaction
        if (this.#worker === worker) {
          // Not asked to stop: report it and start another; the rows it was moving are still in the log.
          this.#worker = undefined;
          this.#onError({ code: WORKER_EXIT, message: `compaction worker exited with code ${code}; restarting it` });
          if (this.#stats.running) this.#restartWorker(url);
        }
        ready?.(new Error(`compaction worker exited (code ${code}) before it was ready: ${this.#stats.lastError?.message ?? ''}`));
        for (const p of this.#pending.values()) p.reject(new Error('compaction worker exited'));
        this.#pending.clear();
        resolve();
      });
    });
    worker.on('error', (err) => this.#onError(errorInfo(err)));
    worker.on('message', (m: FromCompactionWorker) => {
      switch (m.type) {
        case 'ready':
          this.#stats.backlog = m.backlog;
          ready?.();
          ready = undefined;
          break;
        case 'pass':
          this.#lastRun = m.result;
          this.#onPass(m.result, m.backlog);
          break;
        case 'ran': {
          const p = this.#pending.get(m.id);
          this.#pending.delete(m.id);
          if (m.error) p?.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
          else p?.resolve(this.#lastRun!);
          break;
        }
        case 'retention':
          this.#stats.retentionDeleted += m.deleted;
          break;
        case 'error':
          this.#onError(m.error);
          break;
        case 'stopped':
          break;
      }
    });
    // Not unref()'d: the thread keeps the process alive until stop(), so a pass is never cut off by exit.
    await started;
  }

  #restartWorker(url: URL): void {
    this.#restart = setTimeout(() => {
      this.#restart = undefined;
      if (this.#stats.running) this.#startWorker(url).catch(() => undefined); // its exit is reported (and retried) as above
    }, this.#schedule.errorRetryMs);
  }

  #onPass(r: PassResult, backlog: number): void {
    const s = this.#stats;
    s.passes += 1;
    s.rowsMoved += r.rows;
    s.transactions += r.transactions;
    if (r.conflict) s.conflicts += 1;
    s.lastWriteMs = r.maxTxMs;
    s.maxWriteMs = Math.max(s.maxWriteMs, r.maxTxMs);
    s.lastReadMs = r.readMs;
    s.lastPassAt = Date.now();
    s.backlog = backlog;
    for (const fn of this.#listeners.pass) fn(r);
  }

  #onError(e: ErrorInfo): void {
    this.#stats.errors += 1;
    this.#stats.lastError = e;
    for (const fn of this.#listeners.error) fn(e);
  }
}
