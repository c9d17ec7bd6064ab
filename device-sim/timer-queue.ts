import { performance } from 'node:perf_hooks';
import { systemClock, type Clock, type TimerHandle } from './clock.js';

/**
 * Most time one turn spends running timers before it yields to I/O. A late loop finds thousands of ticks
 * due at once; running them all in one go would starve the sockets (ACKs, pings) for a second or more.
 */
const TURN_BUDGET_MS = 10;

interface QueuedTimer {
  at: number;
  order: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A Clock that multiplexes any number of timers onto one timer of an underlying clock (a binary heap
 * ordered by due time). A fleet of 10,000 devices then costs one Node timer, not 30,000.
 */
export class TimerQueue implements Clock {
  readonly #base: Clock;
  #heap: QueuedTimer[] = [];
  #order = 0;
  #armedAt = Infinity;
  #armed: TimerHandle | null = null;
  #cancelled = 0;

  constructor(base: Clock = systemClock) {
    this.#base = base;
  }

  now(): number {
    return this.#base.now();
  }

  /** Number of live timers waiting (for stats and tests). */
  get size(): number {
    return this.#heap.length - this.#cancelled;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: QueuedTimer = { at: this.#base.now() + Math.max(0, ms), order: this.#order++, fn, cancelled: false };
    this.#push(timer);
    if (timer.at < this.#armedAt) this.#arm();
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    const timer = handle as QueuedTimer;
    if (timer.cancelled) return;
    timer.cancelled = true;
    this.#cancelled++;
    // Lazy deletion keeps clearTimeout O(1); compact when cancelled entries dominate the heap.
    if (this.#cancelled > 1024 && this.#cancelled * 2 > this.#heap.length) this.#compact();
    if (this.size === 0) this.#disarm();
  }

  /** Cancels every timer and releases the underlying one. */
  clear(): void {
    for (const t of this.#heap) t.cancelled = true;
    this.#heap = [];
    this.#cancelled = 0;
    this.#disarm();
  }

  #run = (): void => {
    this.#armed = null;
    this.#armedAt = Infinity;
    const now = this.#base.now();
    // Timers scheduled while running wait for the next turn, so a 0 ms reschedule cannot starve I/O.
    const firstNew = this.#order;
    const deadline = performance.now() + TURN_BUDGET_MS;
    for (let ran = 0; ; ran++) {
      const top = this.#heap[0];
      if (top === undefined || top.at > now || top.order >= firstNew) break;
      if ((ran & 63) === 63 && performance.now() > deadline) {
        this.#armed = this.#base.setTimeout(this.#run, 0);
        this.#armedAt = now;
        return;
      }
      this.#pop();
      if (top.cancelled) {
        this.#cancelled--;
        continue;
      }
      top.cancelled = true;
      try {
        top.fn();
      } catch (err) {
        // One device's bug must not stop the loop that drives every other device.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    this.#arm();
  };

  #arm(): void {
    this.#dropCancelledTop();
    const top = this.#heap[0];
    if (top === undefined) return this.#disarm();
    if (this.#armed !== null && top.at >= this.#armedAt) return;
    this.#disarm();
    this.#armedAt = top.at;
    this.#armed = this.#base.setTimeout(this.#run, Math.max(0, top.at - this.#base.now()));
  }

  #disarm(): void {
    if (this.#armed !== null) this.#base.clearTimeout(this.#armed);
    this.#armed = null;
    this.#armedAt = Infinity;
  }

  #dropCancelledTop(): void {
    while (this.#heap[0]?.cancelled) {
      this.#pop();
      this.#cancelled--;
    }
  }

  #compact(): void {
    const live = this.#heap.filter((t) => !t.cancelled);
    this.#heap = [];
    this.#cancelled = 0;
    for (const t of live) this.#push(t);
  }

  #less(a: QueuedTimer, b: QueuedTimer): boolean {
    return a.at < b.at || (a.at === b.at && a.order < b.order);
  }

  #push(timer: QueuedTimer): void {
    const heap = this.#heap;
    let i = heap.push(timer) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (!this.#less(timer, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = timer;
  }

  #pop(): QueuedTimer | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const r = l + 1;
      const child = r < heap.length && this.#less(heap[r]!, heap[l]!) ? r : l;
      if (!this.#less(heap[child]!, last)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}
