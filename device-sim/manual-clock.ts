import type { Clock, TimerHandle } from './clock.js';

interface ManualTimer {
  at: number;
  order: number;
  fn: () => void;
  cancelled: boolean;
}

/** A Clock whose time moves only when a test says so; timers fire in (time, creation) order. */
export class ManualClock implements Clock {
  #now: number;
  #order = 0;
  #timers: ManualTimer[] = [];

  constructor(start = Date.UTC(2025, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: ManualTimer = { at: this.#now + Math.max(0, ms), order: this.#order++, fn, cancelled: false };
    this.#timers.push(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    (handle as ManualTimer).cancelled = true;
  }

  /** Delays, from now, of the timers still waiting, soonest first. */
  pendingDelays(): number[] {
    return this.#live().map((t) => t.at - this.#now);
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      const next = this.#live()[0];
      if (next === undefined || next.at > target) break;
      this.#fire(next);
    }
    this.#now = target;
  }

  /** Jumps to the soonest timer and fires it (and any due at the same instant); false if none waits. */
  advanceToNext(): boolean {
    const next = this.#live()[0];
    if (next === undefined) return false;
    this.advance(next.at - this.#now);
    return true;
  }

  #live(): ManualTimer[] {
    this.#timers = this.#timers.filter((t) => !t.cancelled);
    return this.#timers.sort((a, b) => a.at - b.at || a.order - b.order);
  }

  #fire(timer: ManualTimer): void {
    timer.cancelled = true;
    this.#now = Math.max(this.#now, timer.at);
    timer.fn();
  }
}
