/**
 * The adaptive group-commit window (issue #17 section 2, flash wear). Every SQLite commit appends whole
 * 4 KiB WAL pages (the log's last leaf, page 1 when the file grows, an interior page), whatever it holds,
 * so a commit of one frame costs kilobytes per reading while one of a few hundred costs tens of bytes.
 * A batch therefore waits up to maxWaitMs for more frames, but only while waiting can gather any: when
 * the arrival rate seen over recent commits promises less than one more frame within the window, it
 * commits at the end of the turn (a lone reading of a quiet hub waits for no timer), and a batch that
 * already holds fullReadings commits at the end of the turn (under load the group forms by itself).
 * The window is capped by the ACK latency target at 10,000 readings/s (p50 <= 5 ms, p99 <= 20 ms): a
 * reading waits at most maxWaitMs, on average about half of it.
 */
export interface CommitWindowOptions {
  /** Longest a batch waits for more frames; 0 turns the window off (commit once per event-loop turn). */
  maxWaitMs: number;
  /** Pending readings at which waiting stops: committed at the end of the turn. */
  fullReadings: number;
}

/** Weight of the newest inter-commit interval in the arrival-rate estimate. */
const RATE_WEIGHT = 0.25;
/** Readings a wait must be expected to gather to be worth it (about one more frame of two). */
const WORTH_WAITING_READINGS = 2;

export class CommitWindow {
  readonly #opts: CommitWindowOptions;
  /** Readings per ms, smoothed over commits; Infinity until the first commit (wait: nothing known yet). */
  #rate = Infinity;
  #lastCommitAt: number | undefined;

  constructor(opts: CommitWindowOptions) {
    this.#opts = opts;
  }

  /** Readings per ms arriving, as estimated from recent commits (Infinity before the second commit). */
  get rate(): number {
    return this.#rate;
  }

  /** Ms a batch whose first frame arrived at `now` waits for more before its commit; 0: commit at the end of this turn. */
  waitFor(now: number): number {
    const max = this.#opts.maxWaitMs;
    if (max <= 0) return 0;
    // The rate estimate ends at the last commit; a long silence since then lowers it further.
    const silent = this.#lastCommitAt === undefined ? 0 : Math.max(0, now - this.#lastCommitAt);
    const rate = silent > 0 && Number.isFinite(this.#rate) ? Math.min(this.#rate, 1 / silent) : this.#rate;
    return rate * max >= WORTH_WAITING_READINGS ? max : 0;
  }

  /** True once a pending batch is large enough to commit without waiting longer. */
  full(pending: number): boolean {
    return pending >= this.#opts.fullReadings;
  }

  /** Tells the window a batch of `readings` committed at `now`, for the arrival-rate estimate. */
  committed(readings: number, now: number): void {
    const last = this.#lastCommitAt;
    this.#lastCommitAt = now;
    if (last === undefined) return;
    // One ms at least: several commits in one ms (a backlog drained) say little about arrivals.
    const sample = readings / Math.max(1, now - last);
    this.#rate = Number.isFinite(this.#rate) ? this.#rate + RATE_WEIGHT * (sample - this.#rate) : sample;
  }
}
