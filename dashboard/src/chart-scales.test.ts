import { describe, expect, it } from '@jest/globals';
import { timeTicks, xRange, yRange } from './chart-scales.js';

describe('chart scales', () => {
  const HOUR = 3600_000;
  it('shows the whole window, or "since first reading" when the data starts later', () => {
    const to = 1_700_000_000_000;
    expect(xRange(to - 2 * HOUR, to, HOUR)).toEqual({ from: (to - HOUR) / 1000, to: to / 1000, sinceFirst: false });
    expect(xRange(to - 10 * 60_000, to, 30 * 24 * HOUR)).toEqual({ from: (to - 10 * 60_000) / 1000, to: to / 1000, sinceFirst: true });
    expect(xRange(null, to, HOUR).sinceFirst).toBe(false);
    // A lone recent reading: the last ten minutes, not a one-second sliver.
    expect(xRange(to - 10, to, HOUR)).toEqual({ from: (to - 10 * 60_000) / 1000, to: to / 1000, sinceFirst: true });
    expect(xRange(to - 10, to, 5 * 60_000).sinceFirst).toBe(false);
  });

  it('gives a flat series a band around its value and other series some air', () => {
    expect(yRange(5, 5)).toEqual([4, 6]);
    expect(yRange(1000, 1000)).toEqual([900, 1100]);
    const [lo, hi] = yRange(10, 20);
    expect(lo).toBeCloseTo(9.2);
    expect(hi).toBeCloseTo(20.8);
    expect(yRange(0, 100, { min: 0, max: 100 })).toEqual([0, 100]);
    expect(yRange(null, null)).toEqual([0, 1]);
  });

  it('labels ticks by time of day within a day and by date beyond, in the locale', () => {
    const t = new Date(2026, 0, 31, 19, 31).getTime() / 1000;
    expect(timeTicks(HOUR, 'en-GB')(t)).toBe('19:31');
    expect(timeTicks(30 * 24 * HOUR, 'en-GB')(t)).toBe('31 Jan');
  });
});
