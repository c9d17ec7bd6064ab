import { describe, expect, it } from '@jest/globals';
import { BUSY_WRITE_BOUND_MS, retryBusy } from './busy-retry.js';

const busy = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });

/** A clock that moves only by the waits retryBusy asks for, recording each. */
function clock() {
  let t = 0;
  const waits: number[] = [];
  return { waits, now: () => t, sleep: async (ms: number) => void (waits.push(ms), (t += ms)) };
}

describe('retryBusy', () => {
  it('retries SQLITE_BUSY after 5 ms, doubling to 200 ms, and returns the first success', async () => {
    const c = clock();
    let calls = 0;
    const result = await retryBusy(() => {
      if (++calls < 8) throw busy();
      return 'written';
    }, c);
    expect([result, calls]).toEqual(['written', 8]);
    expect(c.waits).toEqual([5, 10, 20, 40, 80, 160, 200]);
  });

  it(`gives up with the last SQLITE_BUSY once the next wait would pass the bound (${BUSY_WRITE_BOUND_MS} ms)`, async () => {
    const c = clock();
    await expect(retryBusy(() => { throw busy(); }, c)).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    const waited = c.waits.reduce((a, b) => a + b, 0);
    expect(waited).toBeLessThanOrEqual(BUSY_WRITE_BOUND_MS);
    expect(waited + 200).toBeGreaterThan(BUSY_WRITE_BOUND_MS);
  });

  it('rethrows any other error at once, and waits first when asked', async () => {
    const c = clock();
    const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    await expect(retryBusy(() => { throw full; }, { ...c, waitFirst: true })).rejects.toBe(full);
    expect(c.waits).toEqual([5]);
  });
});
