import { describe, expect, it } from '@jest/globals';
import { histogramQuantile } from './histogram-quantile.js';
import { MetricsRegistry } from './metrics-registry.js';

function histogram() {
  return new MetricsRegistry().histogram('t_seconds', 'test', [0.001, 0.002, 0.004, 0.008]);
}

describe('histogramQuantile', () => {
  it('is null without observations, and between two equal snapshots', () => {
    const h = histogram();
    expect(histogramQuantile(0.99, h.snapshot())).toBeNull();
    h.observe(0.003);
    const s = h.snapshot();
    expect(histogramQuantile(0.99, s, s)).toBeNull();
  });

  it('interpolates linearly inside the bucket the rank falls in (first bucket from 0)', () => {
    const h = histogram();
    for (let i = 0; i < 100; i++) h.observe(i < 50 ? 0.0005 : 0.003); // 50 in (0, 1 ms], 50 in (2, 4 ms]
    // rank 99 of 100: the 49th of 50 in (0.002, 0.004] -> 0.002 + 0.002 * 49/50.
    expect(histogramQuantile(0.99, h.snapshot())).toBeCloseTo(0.00396, 9);
    // rank 25: half-way through the first bucket.
    expect(histogramQuantile(0.25, h.snapshot())).toBeCloseTo(0.0005, 9);
  });

  it('counts only what was observed after `before`: a slow past does not hide a fast present', () => {
    const h = histogram();
    for (let i = 0; i < 1000; i++) h.observe(0.007);
    const before = h.snapshot();
    for (let i = 0; i < 10; i++) h.observe(0.0001);
    expect(histogramQuantile(0.99, h.snapshot(), before)).toBeLessThanOrEqual(0.001);
    expect(histogramQuantile(0.99, h.snapshot())).toBeGreaterThan(0.004);
  });

  it('answers the largest finite bound when the quantile lies past it (+Inf)', () => {
    const h = histogram();
    h.observe(5);
    expect(histogramQuantile(0.99, h.snapshot())).toBe(0.008);
  });
});
