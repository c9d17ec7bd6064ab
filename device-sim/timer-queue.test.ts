import { describe, it, expect } from '@jest/globals';
import { ManualClock } from './manual-clock.js';
import { TimerQueue } from './timer-queue.js';

describe('TimerQueue', () => {
  it('runs many timers in due order on a single underlying timer', () => {
    const base = new ManualClock(0);
    const q = new TimerQueue(base);
    const fired: number[] = [];
    const delays = [50, 10, 30, 10, 70, 0, 20];
    delays.forEach((ms, i) => q.setTimeout(() => fired.push(i), ms));
    expect(base.pendingDelays()).toHaveLength(1);
    base.advance(100);
    const expected = delays.map((ms, i) => ({ ms, i })).sort((a, b) => a.ms - b.ms || a.i - b.i).map((x) => x.i);
    expect(fired).toEqual(expected);
    expect(base.pendingDelays()).toHaveLength(0);
  });

  it('cancelled timers never fire and release the underlying timer', () => {
    const base = new ManualClock(0);
    const q = new TimerQueue(base);
    const fired: string[] = [];
    const a = q.setTimeout(() => fired.push('a'), 10);
    q.setTimeout(() => fired.push('b'), 20);
    q.clearTimeout(a);
    base.advance(15);
    expect(fired).toEqual([]);
    base.advance(10);
    expect(fired).toEqual(['b']);
    const c = q.setTimeout(() => fired.push('c'), 5);
    q.clearTimeout(c);
    expect(q.size).toBe(0);
    expect(base.pendingDelays()).toHaveLength(0);
  });

  it('a timer set while firing waits for its own time', () => {
    const base = new ManualClock(0);
    const q = new TimerQueue(base);
    const fired: number[] = [];
    q.setTimeout(() => {
      fired.push(base.now());
      q.setTimeout(() => fired.push(base.now()), 5);
    }, 10);
    base.advance(12);
    expect(fired).toEqual([10]);
    base.advance(3);
    expect(fired).toEqual([10, 15]);
  });

  it('keeps order across thousands of timers', () => {
    const base = new ManualClock(0);
    const q = new TimerQueue(base);
    let last = -1;
    let ok = true;
    let count = 0;
    for (let i = 0; i < 5000; i++) {
      const at = (i * 7919) % 10_000;
      const handle = q.setTimeout(() => {
        ok &&= base.now() === at && at >= last;
        last = at;
        count++;
      }, at);
      if (i % 3 === 0) q.clearTimeout(handle);
    }
    base.advance(10_000);
    expect(ok).toBe(true);
    expect(count).toBe(5000 - Math.ceil(5000 / 3));
  });
});
