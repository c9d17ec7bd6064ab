import type { Timers } from '../timers.js';

/**
 * Spreads work at no more than `perSecond` units a second: take() resolves at once while the current
 * one-second window has room, else when the next window opens. Bounds the burst a re-publish of thousands of
 * retained topics puts on the broker and on clients such as Home Assistant right after their restart.
 */
export class RatePacer {
  readonly #perSecond: number;
  readonly #now: () => number;
  readonly #timers: Timers;
  #windowStart = -Infinity;
  #used = 0;

  constructor(perSecond: number, now: () => number, timers: Timers) {
    this.#perSecond = Math.max(1, perSecond);
    this.#now = now;
    this.#timers = timers;
  }

  /** Resolves when one more unit may go. */
  async take(): Promise<void> {
    for (;;) {
      const now = this.#now();
      if (now - this.#windowStart >= 1000) {
        this.#windowStart = now;
        this.#used = 0;
      }
      if (this.#used < this.#perSecond) {
        this.#used += 1;
        return;
      }
      const wait = this.#windowStart + 1000 - now;
      await new Promise<void>((resolve) => this.#timers.setTimeout(resolve, wait));
    }
  }
}
