import { faultCause } from './fault-cause.js';

/** First and longest wait between attempts of a small write that met SQLITE_BUSY (the delay doubles in between). */
export const BUSY_WRITE_RETRY_MS = { first: 5, max: 200 } as const;
/**
 * How long a small write (a HELLO, a new series, a device added from the API) keeps retrying a lock held
 * elsewhere before it gives up with the fault: compaction holds the lock a few ms at a time and its WAL
 * truncation some tens of ms, so only another process holding it this long makes a write fail.
 */
export const BUSY_WRITE_BOUND_MS = 2000;

export interface BusyRetryOptions {
  boundMs?: number;
  /** Waits `ms` (default: setTimeout); tests pass a manual clock's. */
  sleep?: (ms: number) => Promise<void>;
  /** The clock the bound is measured on (default performance.now). */
  now?: () => number;
  /** The caller's own first attempt just met SQLITE_BUSY: wait before the first one here. */
  waitFirst?: boolean;
}

const sleepReal = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `write` at once (or after 5 ms: waitFirst) and, while it throws SQLITE_BUSY, again after 5, 10, 20 ... 200 ms, never blocking
 * the event loop in between, for at most boundMs; rejects with the last error, or at once with any error
 * that is not BUSY (a full disk, a read-only file, a refused value).
 */
export async function retryBusy<T>(write: () => T, opts: BusyRetryOptions = {}): Promise<T> {
  const now = opts.now ?? (() => performance.now());
  const sleep = opts.sleep ?? sleepReal;
  const deadline = now() + (opts.boundMs ?? BUSY_WRITE_BOUND_MS);
  let delay: number = BUSY_WRITE_RETRY_MS.first;
  if (opts.waitFirst) {
    await sleep(delay);
    delay *= 2;
  }
  for (;;) {
    try {
      return write();
    } catch (err) {
      if (faultCause(err) !== 'busy' || now() + delay > deadline) throw err;
    }
    await sleep(delay);
    delay = Math.min(BUSY_WRITE_RETRY_MS.max, delay * 2);
  }
}
