// Every timer of the simulator goes through a Clock, so tests drive time by hand (ManualClock) and a fleet
// runs all its devices on one shared timer loop (TimerQueue) instead of one Node timer per device.

/** An opaque handle returned by Clock.setTimeout. */
export type TimerHandle = object;

export interface Clock {
  /** Milliseconds since the Unix epoch (or any monotonic-enough origin the clock chooses). */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The wall clock and Node's own timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
