import { describe, it, expect } from '@jest/globals';
import { Backoff } from './backoff.js';
import { Rng } from './rng.js';

describe('Backoff [FP-10.6]', () => {
  it('full jitter: the n-th delay lies in [0, min(cap, base * 2^n))', () => {
    const backoff = new Backoff(new Rng('jitter'), { baseMs: 1000, capMs: 60_000 });
    for (let n = 0; n < 40; n++) {
      const ceiling = Math.min(60_000, 1000 * 2 ** n);
      expect(backoff.ceiling()).toBe(ceiling);
      const delay = backoff.next();
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(ceiling);
    }
  });

  it('spreads delays over the whole window rather than clustering at the ceiling', () => {
    const delays = Array.from({ length: 2000 }, () => {
      const b = new Backoff(rng, { baseMs: 1000, capMs: 60_000 });
      for (let i = 0; i < 10; i++) b.next();
      return b.next() / 60_000;
    });
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
    expect(Math.min(...delays)).toBeLessThan(0.05);
    expect(Math.max(...delays)).toBeGreaterThan(0.95);
  });

  it('the same seed gives the same delays; another seed other delays', () => {
    const run = (seed: string) => {
      const b = new Backoff(new Rng(seed));
      return Array.from({ length: 8 }, () => b.next());
    };
    expect(run('a')).toEqual(run('a'));
    expect(run('a')).not.toEqual(run('b'));
  });

  it('reset() starts again from the base; toCap() jumps to the cap; a floor is honoured', () => {
    const b = new Backoff(new Rng('r'), { baseMs: 100, capMs: 10_000 });
    for (let i = 0; i < 5; i++) b.next();
    expect(b.ceiling()).toBe(3200);
    b.reset();
    expect(b.ceiling()).toBe(100);
    b.toCap();
    expect(b.ceiling()).toBe(10_000);
    b.reset();
    expect(b.next(1000)).toBe(1000);
  });
});

const rng = new Rng('spread');
