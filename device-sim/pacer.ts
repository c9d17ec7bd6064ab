/**
 * A token bucket that keeps data frames under the hub's WELCOME.maxFramesPerSecond [FP-9.2]. Its burst
 * is one second's worth, half of what the hub tolerates, so a resend backlog never trips close 4008.
 */
export class Pacer {
  #rate: number;
  #tokens: number;
  #updatedAt: number;

  constructor(framesPerSecond: number, now: number) {
    this.#rate = Math.max(1, framesPerSecond);
    this.#tokens = this.#rate;
    this.#updatedAt = now;
  }

  /** Takes one token and returns 0, or returns the ms to wait before one is available (taking none). */
  take(now: number): number {
    this.#refill(now);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.#tokens) * 1000) / this.#rate);
  }

  #refill(now: number): void {
    const elapsed = Math.max(0, now - this.#updatedAt);
    this.#tokens = Math.min(this.#rate, this.#tokens + (elapsed * this.#rate) / 1000);
    this.#updatedAt = now;
  }
}
