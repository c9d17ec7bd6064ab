/** An opaque timer handle. */
export type TimerHandle = object;

/**
 * The timers a hub part schedules with: production passes systemTimers, unit tests a clock whose time moves only
 * when the test says so (device-sim's ManualClock fits), instead of shortening real delays.
 */
export interface Timers {
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Node's own setTimeout and clearTimeout. */
export const systemTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** `ms` give or take a fifth, at random: hubs started together do not all do the same periodic work at the same moment. */
export function jittered(ms: number): number {
  return Math.round(ms * (0.8 + 0.4 * Math.random()));
}
