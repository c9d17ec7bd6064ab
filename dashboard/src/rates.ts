// Rates from the hub's cumulative counters (GET /api/hub): readings/s is the difference of two samples over
// the time between them, so the hub needs no rate bookkeeping of its own.

export class RateMeter {
  #last: { at: number; count: number } | null = null;

  /** Records a counter sample; returns the rate per second since the previous sample, null for the first or a reset. */
  sample(count: number, at: number): number | null {
    const last = this.#last;
    this.#last = { at, count };
    if (!last || at <= last.at || count < last.count) return null;
    return ((count - last.count) * 1000) / (at - last.at);
  }

  reset(): void {
    this.#last = null;
  }
}
