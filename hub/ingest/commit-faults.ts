import type { Logger } from '../logger.js';
import { faultCause, type StorageFaultCause } from '../storage/fault-cause.js';

/** How often a commit that failed for any cause but a lock held elsewhere is retried. */
export const COMMIT_RETRY_MS = 1000;
/** First and longest wait before retrying a commit that met SQLITE_BUSY (the delay doubles in between). */
export const BUSY_RETRY_MS = { first: 5, max: 250 } as const;

/** Why commits fail (storage/fault-cause.ts): the `cause` label of hearth_commit_failures_total. */
export type CommitFailureCause = StorageFaultCause;

/** The storage fault in progress: what /api/health, /readyz and /metrics report. */
export interface StorageFault {
  cause: CommitFailureCause;
  /** The last error's message. */
  message: string;
  /** When the first failed commit of this fault happened (the `now` clock). */
  since: number;
  /** Failed commits (and reopen attempts) so far in this fault. */
  failures: number;
}

/** The cause of a commit error (see storage/fault-cause.ts). */
export const commitFailureCause = faultCause;

/**
 * The ingest pipeline's storage faults: the one in progress, failures by cause since start, and when to retry
 * (soon, doubling, for a lock held elsewhere; each second otherwise). Logs a fault once when it starts and
 * once when commits succeed again.
 */
export class CommitFaults {
  readonly #log: Logger;
  readonly #now: () => number;
  #fault: StorageFault | undefined;
  #busyDelay: number = BUSY_RETRY_MS.first;
  /** Commit failures since start, by cause (hearth_commit_failures_total). */
  readonly byCause = new Map<CommitFailureCause, number>();

  constructor(log: Logger, now: () => number) {
    this.#log = log;
    this.#now = now;
  }

  /** The fault in progress, undefined while commits succeed. */
  get current(): StorageFault | undefined {
    return this.#fault;
  }

  /** Records a failed commit (or reopen); answers its cause and how long to wait before the retry. */
  failed(err: unknown, pending: number): { cause: CommitFailureCause; delayMs: number } {
    const cause = commitFailureCause(err);
    const message = (err as Error)?.message ?? String(err);
    this.byCause.set(cause, (this.byCause.get(cause) ?? 0) + 1);
    if (!this.#fault) {
      this.#fault = { cause, message, since: this.#now(), failures: 1 };
      // Once per fault at error level; recovered() logs the summary.
      this.#log.error({ cause, err: message, pending }, 'storage write failed: acknowledgements stopped, devices keep their backlog; retrying until it succeeds');
    } else {
      Object.assign(this.#fault, { cause, message, failures: this.#fault.failures + 1 });
    }
    if (cause !== 'busy') return { cause, delayMs: COMMIT_RETRY_MS };
    const delayMs = this.#busyDelay;
    this.#busyDelay = Math.min(BUSY_RETRY_MS.max, this.#busyDelay * 2);
    return { cause, delayMs };
  }

  /** Commits succeed (again): the fault, if any, is over. */
  recovered(): void {
    this.#busyDelay = BUSY_RETRY_MS.first;
    const fault = this.#fault;
    if (!fault) return;
    this.#fault = undefined;
    this.#log.warn({ cause: fault.cause, failures: fault.failures, durationMs: this.#now() - fault.since }, 'storage writes succeed again: acknowledging resumed');
  }
}
