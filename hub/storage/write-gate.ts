/**
 * Longest the main thread waits for a compaction transaction before trying the lock anyway: compaction's
 * transactions take 5-7 ms (compaction/loop.ts), and the event loop must never block much longer (a commit
 * that then meets SQLITE_BUSY is retried on a timer by ingest).
 */
const MAIN_WAIT_LIMIT_MS = 20;
const WANTS = 0;
const WRITING = 1;

/**
 * Gives the hub's commits priority over compaction's write transactions, across threads, through shared
 * memory. SQLite alone would make a blocked commit() poll with growing sleeps (1, 2, 5, 10, 15, 20, 25 ms
 * ...) while the worker, never sleeping, takes the lock again for its next transaction: measured, commits
 * then waited up to 200 ms behind several back-to-back transactions. With the gate the worker does not
 * begin a transaction while the main thread wants to commit, and the main thread wakes the moment the
 * transaction in flight ends. Only scheduling: SQLite's locks still guarantee correctness if either side
 * ignores the gate. Dekker-style flags; Atomics are sequentially consistent, so both cannot pass at once.
 */
export class WriteGate {
  /** Share this with the worker (workerData); `new WriteGate(buffer)` there. */
  readonly buffer: SharedArrayBuffer;
  readonly #flags: Int32Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(8)) {
    this.buffer = buffer;
    this.#flags = new Int32Array(buffer);
  }

  /** Main thread: runs `write` once no compaction transaction is in flight, holding new ones off meanwhile. */
  priority<T>(write: () => T): T {
    const f = this.#flags;
    Atomics.store(f, WANTS, 1);
    try {
      const deadline = Date.now() + MAIN_WAIT_LIMIT_MS;
      while (Atomics.load(f, WRITING) === 1 && Date.now() < deadline) Atomics.wait(f, WRITING, 1, 50);
      return write();
    } finally {
      Atomics.store(f, WANTS, 0);
      Atomics.notify(f, WANTS);
    }
  }

  /**
   * Main thread, for writes that can wait for a later turn (the ingest journal's drains): runs `write` at
   * once, holding compaction's next transaction off, unless one is in flight; then returns false without
   * running it or waiting. A journaled hub's compaction writes a pass in one long transaction (fewer page
   * rewrites per reading), which priority() would wait for on the event loop.
   */
  tryPriority(write: () => void): boolean {
    const f = this.#flags;
    Atomics.store(f, WANTS, 1);
    try {
      if (Atomics.load(f, WRITING) === 1) return false;
      write();
      return true;
    } finally {
      Atomics.store(f, WANTS, 0);
      Atomics.notify(f, WANTS);
    }
  }

  /** Compaction thread: runs `write` at a moment the main thread is not committing or waiting to. */
  yielding<T>(write: () => T): T {
    const f = this.#flags;
    for (;;) {
      while (Atomics.load(f, WANTS) === 1) Atomics.wait(f, WANTS, 1, 50);
      Atomics.store(f, WRITING, 1);
      if (Atomics.load(f, WANTS) === 0) break;
      // The main thread arrived meanwhile: let it go first.
      this.#release();
    }
    try {
      return write();
    } finally {
      this.#release();
    }
  }

  /** Clears the compaction side's flag (also after its thread died mid-transaction). */
  reset(): void {
    this.#release();
  }

  #release(): void {
    Atomics.store(this.#flags, WRITING, 0);
    Atomics.notify(this.#flags, WRITING);
  }
}
