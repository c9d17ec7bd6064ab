// Coalesces redraws: any number of request() calls between two animation frames cause one run(). Under a
// flood of MQTT messages the page therefore draws at most once per frame instead of once per message.

export type RequestFrame = (callback: () => void) => unknown;

export class FrameScheduler {
  readonly #run: () => void;
  readonly #requestFrame: RequestFrame;
  #scheduled = false;
  #stopped = false;
  /** How many times run() was called, and how many requests it absorbed (for the hub view and tests). */
  runs = 0;
  requests = 0;

  /** `requestFrame` defaults to requestAnimationFrame; tests pass a manual one. */
  constructor(run: () => void, requestFrame?: RequestFrame) {
    this.#run = run;
    this.#requestFrame = requestFrame ?? ((cb) => requestAnimationFrame(() => cb()));
  }

  /** Asks for a run at the next frame; free when one is already scheduled. */
  request(): void {
    this.requests++;
    if (this.#scheduled || this.#stopped) return;
    this.#scheduled = true;
    this.#requestFrame(() => {
      this.#scheduled = false;
      if (this.#stopped) return;
      this.runs++;
      this.#run();
    });
  }

  /** No further runs, even for a frame already requested. */
  stop(): void {
    this.#stopped = true;
  }
}
