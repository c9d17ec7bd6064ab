import { describe, expect, it } from '@jest/globals';
import { toSegments } from './state-timeline.js';

describe('toSegments', () => {
  const label = (v: unknown) => (v ? 'On' : 'Off');
  it('turns readings into stretches of equal state, clipped to the window, the last lasting until its end', () => {
    const points = [
      { ts: 0, value: false },
      { ts: 100, value: true },
      { ts: 150, value: true },
      { ts: 300, value: false },
    ];
    expect(toSegments(points, 50, 400, label)).toEqual([
      { from: 50, to: 100, state: 'Off' },
      { from: 100, to: 300, state: 'On' },
      { from: 300, to: 400, state: 'Off' },
    ]);
    expect(toSegments([], 0, 10, label)).toEqual([]);
    expect(toSegments([{ ts: 500, value: true }], 0, 400, label)).toEqual([]);
  });
});
