import { describe, expect, it } from '@jest/globals';
import { appendPoint, historyPath, RANGES, toSeries } from './history.js';

const MIN = 60_000;

describe('historyPath', () => {
  it('asks raw points for an hour and rollups beyond, ending now', () => {
    const now = 1_700_000_000_000;
    const url = new URL(historyPath('kitchen/1', 'temperature', '1h', now), 'https://hub');
    expect(url.pathname).toBe('/api/devices/kitchen%2F1/history');
    expect(Object.fromEntries(url.searchParams)).toEqual({ metric: 'temperature', from: String(now - 3600_000), to: String(now), step: 'raw', limit: '10000' });
    expect(new URL(historyPath('a', 'b', '24h', now), 'https://hub').searchParams.get('step')).toBe('minute');
    expect(new URL(historyPath('a', 'b', '30d', now), 'https://hub').searchParams.get('step')).toBe('hour');
    expect(new URL(historyPath('a', 'b', '1h', now, 'minute'), 'https://hub').searchParams.get('step')).toBe('minute');
    expect(RANGES['7d'].ms).toBe(7 * 24 * 3600_000);
  });
});

describe('toSeries', () => {
  it('turns raw points into seconds and values, skipping non-numbers', () => {
    const s = toSeries({ step: 'raw', from: 0, to: 3600_000, points: [{ ts: 1000, value: 1.5 }, { ts: 2000, value: 'x' }, { ts: 3000, value: true }] });
    expect([s.xs, s.values]).toEqual([[1, 3], [1.5, 1]]);
  });

  it('charts a bool rollup (min/max booleans, mean the share of true) as a 0..1 band', () => {
    const s = toSeries({ step: 'minute', from: 0, to: 3600_000, points: [{ ts: 0, min: false, max: true, mean: 0.25, count: 4 }] });
    expect([s.values, s.mins, s.maxs, s.counts]).toEqual([[0.25], [0], [1], [4]]);
  });

  it('turns rollups into mean with a min/max band', () => {
    const s = toSeries({ step: 'minute', from: 0, to: 3600_000, points: [{ ts: 0, min: 1, max: 3, mean: 2, count: 4 }, { ts: MIN, mean: 5 }] });
    expect([s.xs, s.values, s.mins, s.maxs, s.counts]).toEqual([[0, 60], [2, 5], [1, 5], [3, 5], [4, 1]]);
  });
});

describe('appendPoint', () => {
  it('appends newer raw points, ignores older ones, and slides the window', () => {
    const s = toSeries({ step: 'raw', from: 0, to: 10_000, points: [{ ts: 1000, value: 1 }, { ts: 5000, value: 2 }] });
    expect(appendPoint(s, 4000, 9)).toBe(false);
    expect(appendPoint(s, 12_000, 3)).toBe(true);
    expect([s.xs, s.values, s.toMs]).toEqual([[5, 12], [2, 3], 12_000]);
  });

  it('merges a live value into the current bucket and opens the next one', () => {
    const s = toSeries({ step: 'minute', from: 0, to: 3600_000, points: [{ ts: 2 * MIN, min: 1, max: 3, mean: 2, count: 2 }] });
    expect(appendPoint(s, 2 * MIN + 30_000, 5)).toBe(true);
    expect([s.values[0], s.mins[0], s.maxs[0], s.counts[0]]).toEqual([3, 1, 5, 3]);
    expect(appendPoint(s, 3 * MIN + 1, 0)).toBe(true);
    expect([s.xs, s.values, s.counts]).toEqual([[120, 180], [3, 0], [3, 1]]);
    expect(appendPoint(s, MIN, 7)).toBe(false);
    expect(appendPoint(s, 4 * MIN, Number.NaN)).toBe(false);
  });
});
