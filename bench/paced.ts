/**
 * One timer for a whole simulated fleet: every `tickMs`, `fire(i)` for each send that fell due since the last
 * tick (i counts up, for spreading them round-robin over devices). Due sends follow the clock, not the tick
 * count, so a timer that fires late under load sends what fell due meanwhile instead of offering less.
 */
export function everyDue(perSecond: number, tickMs: number, fire: (i: number) => void): NodeJS.Timeout {
  let due = 0;
  let count = 0;
  let last = performance.now();
  return setInterval(() => {
    const now = performance.now();
    due += (perSecond * (now - last)) / 1000;
    last = now;
    for (; due >= 1; due--) fire(count++);
  }, tickMs);
}
