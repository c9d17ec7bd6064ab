import type { Clock, TimerHandle } from './clock.js';

/**
 * Notices a silent hub: `onSilent` runs once nothing was heard for `limitMs` [FP-10.1]. heard() is called
 * on every message and ping, so it only stores a time; the timer re-arms itself lazily.
 */
export class Watchdog {
  readonly #clock: Clock;
  readonly #onSilent: () => void;
  #limitMs = 0;
  #lastHeard = 0;
  #timer: TimerHandle | null = null;

  constructor(clock: Clock, onSilent: () => void) {
    this.#clock = clock;
    this.#onSilent = onSilent;
  }

  /** (Re)starts watching with a new silence limit, counting from now. */
  watch(limitMs: number): void {
    this.stop();
    this.#limitMs = limitMs;
    this.heard();
  }

  /** Something arrived from the hub. */
  heard(): void {
    this.#lastHeard = this.#clock.now();
    if (this.#limitMs > 0) this.#timer ??= this.#clock.setTimeout(this.#check, this.#limitMs);
  }

  /** Stops watching until the next watch(). */
  stop(): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#limitMs = 0;
  }

  #check = (): void => {
    this.#timer = null;
    const silent = this.#clock.now() - this.#lastHeard;
    if (silent >= this.#limitMs) return this.#onSilent();
    this.#timer = this.#clock.setTimeout(this.#check, this.#limitMs - silent);
  };
}
