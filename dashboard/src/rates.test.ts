import { describe, expect, it } from '@jest/globals';
import { RateMeter } from './rates.js';

describe('RateMeter', () => {
  it('derives a per-second rate from successive counters', () => {
    const m = new RateMeter();
    expect(m.sample(1000, 10_000)).toBeNull();
    expect(m.sample(41_000, 12_000)).toBe(20_000);
    expect(m.sample(41_000, 13_000)).toBe(0);
  });

  it('restarts after a counter reset (hub restart) or a clock that did not move', () => {
    const m = new RateMeter();
    m.sample(5000, 1000);
    expect(m.sample(10, 2000)).toBeNull();
    expect(m.sample(20, 2000)).toBeNull();
    expect(m.sample(30, 3000)).toBe(10);
    m.reset();
    expect(m.sample(40, 4000)).toBeNull();
  });
});
