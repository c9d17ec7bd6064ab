import { describe, expect, it } from '@jest/globals';
import { CommitWindow } from './commit-window.js';

describe('CommitWindow', () => {
  it('waits the whole window while nothing is known of the load, and never with a 0 window', () => {
    expect(new CommitWindow({ maxWaitMs: 8, fullReadings: 256 }).waitFor(1000)).toBe(8);
    expect(new CommitWindow({ maxWaitMs: 0, fullReadings: 256 }).waitFor(1000)).toBe(0);
  });

  it('keeps waiting at 1,000 readings/s (a wait gathers several frames)', () => {
    const w = new CommitWindow({ maxWaitMs: 8, fullReadings: 256 });
    let now = 0;
    for (let i = 0; i < 20; i++) w.committed(8, (now += 8)); // 8 readings every 8 ms: 1 reading/ms
    expect(w.rate).toBeCloseTo(1, 5);
    expect(w.waitFor(now + 1)).toBe(8);
  });

  it('stops waiting on a quiet hub: a lone reading commits at the end of its turn', () => {
    const w = new CommitWindow({ maxWaitMs: 8, fullReadings: 256 });
    let now = 0;
    for (let i = 0; i < 20; i++) w.committed(2, (now += 1000)); // one frame of 2 readings a second
    expect(w.rate).toBeCloseTo(0.002, 5);
    expect(w.waitFor(now + 1000)).toBe(0);
  });

  it('a silence since the last commit counts as a low rate, whatever the rate before it', () => {
    const w = new CommitWindow({ maxWaitMs: 8, fullReadings: 256 });
    let now = 0;
    for (let i = 0; i < 20; i++) w.committed(100, (now += 5)); // a busy hub: 20 readings/ms
    expect(w.waitFor(now + 1)).toBe(8);
    expect(w.waitFor(now + 60_000)).toBe(0); // then a minute without frames
  });

  it('a batch of fullReadings is full: it commits without waiting longer', () => {
    const w = new CommitWindow({ maxWaitMs: 8, fullReadings: 256 });
    expect([w.full(255), w.full(256), w.full(4000)]).toEqual([false, true, true]);
  });

  it('several commits in one ms (a backlog drained) count as one ms each, not as an infinite rate', () => {
    const w = new CommitWindow({ maxWaitMs: 8, fullReadings: 256 });
    w.committed(10, 100);
    w.committed(10, 100);
    expect(w.rate).toBe(10);
  });
});
