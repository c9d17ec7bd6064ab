import { describe, expect, it } from '@jest/globals';
import { eventually } from './eventually.js';

describe('eventually', () => {
  it('resolves with the first result that is neither a throw nor false', async () => {
    let calls = 0;
    const result = await eventually(() => {
      calls += 1;
      if (calls < 3) throw new Error('not yet');
      return calls === 3 ? false : `done after ${calls}`;
    });
    expect(result).toBe('done after 4');
  });

  it('awaits an async check', async () => {
    let calls = 0;
    expect(await eventually(async () => ++calls >= 2)).toBe(true);
  });

  it('on timeout rethrows the last error of a throwing check', async () => {
    let calls = 0;
    await expect(eventually(() => {
      throw new Error(`attempt ${++calls}`);
    }, 30)).rejects.toThrow(/^attempt \d+$/);
    expect(calls).toBeGreaterThan(1);
  });

  it('on timeout names what a false-returning check waited for', async () => {
    await expect(eventually(() => false, { timeoutMs: 30, what: 'the device online' })).rejects.toThrow('timed out after 30 ms waiting for the device online');
    let asked = 0;
    await expect(eventually(() => false, { timeoutMs: 30, what: () => `state ${++asked}` })).rejects.toThrow('waiting for state 1');
    await expect(eventually(() => false, { timeoutMs: 30 })).rejects.toThrow(/waiting for \(\) ?=> ?false/); // the check's own source
  });
});
