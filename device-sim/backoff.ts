import type { Rng } from './rng.js';

export interface BackoffOptions {
  /** First ceiling, ms (default 1000) [FP-10.6]. */
  baseMs?: number;
  /** Largest ceiling, ms (default 60000) [FP-10.6]. */
  capMs?: number;
}

export const DEFAULT_BACKOFF_BASE_MS = 1000;
export const DEFAULT_BACKOFF_CAP_MS = 60_000;

/**
 * Exponential backoff with full jitter: the n-th delay is uniform in [0, min(cap, base * 2^n)), so a
 * fleet that lost its hub at the same instant spreads its reconnects instead of stampeding.
 */
export class Backoff {
  readonly baseMs: number;
  readonly capMs: number;
  readonly #rng: Rng;
  #attempt = 0;

  constructor(rng: Rng, options: BackoffOptions = {}) {
    this.baseMs = options.baseMs ?? DEFAULT_BACKOFF_BASE_MS;
    this.capMs = options.capMs ?? DEFAULT_BACKOFF_CAP_MS;
    this.#rng = rng;
  }

  /** Attempts made since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** Current ceiling: min(cap, base * 2^attempt). */
  ceiling(): number {
    // 2^attempt overflows to Infinity long after it passed the cap; min() keeps it finite.
    return Math.min(this.capMs, this.baseMs * 2 ** this.#attempt);
  }

  /** Next delay in ms, at least `floorMs` (a refusal that must not be retried at once), then counts the attempt. */
  next(floorMs = 0): number {
    const delay = Math.floor(this.#rng.next() * this.ceiling());
    this.#attempt++;
    return Math.min(this.capMs, Math.max(floorMs, delay));
  }

  /** Jumps straight to the cap (a 401 will not fix itself soon: do not hammer the hub). */
  toCap(): void {
    if (this.baseMs <= 0) return;
    this.#attempt = Math.max(this.#attempt, Math.ceil(Math.log2(this.capMs / this.baseMs)));
  }

  /** Called after a WELCOME: the next failure starts again from the base. */
  reset(): void {
    this.#attempt = 0;
  }
}
