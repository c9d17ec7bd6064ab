import { afterAll, describe, expect, it } from '@jest/globals';
import type { HubStore } from './hub-store.js';
import { StoreFixture, batchOf, float, newDevice, prng } from './testing/store-fixture.js';
import type { HistoryPoint, ReadingRow } from './types.js';

const fx = new StoreFixture();
afterAll(() => fx.cleanup());

const T0 = 1_700_000_000_000 - (1_700_000_000_000 % 3_600_000); // on an hour boundary
const MIN = 60_000;

function rawTruth(all: Array<{ ts: number; value: number }>, from: number, to: number, limit: number): HistoryPoint[] {
  return all
    .filter((p) => p.ts >= from && p.ts <= to)
    .sort((a, b) => a.ts - b.ts || a.value - b.value)
    .slice(0, limit)
    .map(({ ts, value }) => ({ ts, value }));
}

/** 3000 readings a minute apart over ~50 hours, committed out of order, some compacted and some left in the log. */
function store3000(): { store: HubStore; all: Array<{ ts: number; value: number }> } {
  const store = fx.open();
  store.addDevice(newDevice('d'));
  const s = store.seriesId('d', 't', 'float');
  const rand = prng(11);
  const all = Array.from({ length: 3000 }, (_, i) => ({ ts: T0 + i * MIN + Math.floor(rand() * 1000), value: Math.round(rand() * 1000) / 10 }));
  const shuffled = [...all].sort(() => rand() - 0.5);
  for (let i = 0; i < shuffled.length; i += 100) {
    store.commit(batchOf(shuffled.slice(i, i + 100).map((p): ReadingRow => ({ series: s, ts: p.ts, value: float(p.value) })), { d: i + 1 }));
    if (i < 2500) store.compactStep(); // the last 500 stay in the log
  }
  if (store.stats().pendingLogRows !== 500) throw new Error('fixture: expected 500 readings left in the log');
  return { store, all };
}

describe('history raw', () => {
  const { store, all } = store3000();
  const q = { deviceId: 'd', metric: 't', step: 'raw' } as const;

  it('returns every point in [from, to] (inclusive) in ts order, from chunks and log alike', () => {
    expect(store.history({ ...q, from: 0, to: T0 * 2, limit: 1e9 })).toEqual(rawTruth(all, 0, T0 * 2, 1e9));
    const a = all[100]!.ts;
    const b = all[200]!.ts;
    const points = store.history({ ...q, from: a, to: b, limit: 1e9 });
    expect(points[0]!.ts).toBe(a);
    expect(points[points.length - 1]!.ts).toBe(b);
    expect(points).toEqual(rawTruth(all, a, b, 1e9));
  });

  it('returns the first `limit` points of the range', () => {
    const rand = prng(5);
    for (let i = 0; i < 60; i++) {
      const from = T0 + Math.floor(rand() * 3100 * MIN) - 50 * MIN;
      const to = from + Math.floor(rand() * 1500 * MIN);
      const limit = 1 + Math.floor(rand() * 700);
      expect(store.history({ ...q, from, to, limit })).toEqual(rawTruth(all, from, to, limit));
    }
  });

  it('returns nothing for an empty range, a zero limit, from > to, or an unknown device or metric', () => {
    expect(store.history({ ...q, from: 0, to: T0 - 1, limit: 10 })).toEqual([]);
    expect(store.history({ ...q, from: 0, to: T0 * 2, limit: 0 })).toEqual([]);
    expect(store.history({ ...q, from: T0 + 10 * MIN, to: T0, limit: 10 })).toEqual([]);
    expect(store.history({ ...q, deviceId: 'ghost', from: 0, to: T0 * 2, limit: 10 })).toEqual([]);
    expect(store.history({ ...q, metric: 'ghost', from: 0, to: T0 * 2, limit: 10 })).toEqual([]);
  });

  it('gives bool as 0/1, enum as its index and string as text', () => {
    const st = fx.open();
    st.addDevice(newDevice('x'));
    const b = st.seriesId('x', 'b', 'bool');
    const e = st.seriesId('x', 'e', 'enum');
    const s = st.seriesId('x', 's', 'string');
    const readings: ReadingRow[] = [
      { series: b, ts: T0, value: { type: 'bool', value: true } },
      { series: b, ts: T0 + 1, value: { type: 'bool', value: false } },
      { series: e, ts: T0, value: { type: 'enum', value: 4 } },
      { series: s, ts: T0, value: { type: 'string', value: 'héllo' } },
    ];
    st.commit(batchOf(readings, { x: 1 }));
    const read = (metric: string): HistoryPoint[] => st.history({ deviceId: 'x', metric, from: 0, to: T0 * 2, step: 'raw', limit: 10 });
    const expected = { b: [{ ts: T0, value: 1 }, { ts: T0 + 1, value: 0 }], e: [{ ts: T0, value: 4 }], s: [{ ts: T0, value: 'héllo' }] };
    expect({ b: read('b'), e: read('e'), s: read('s') }).toEqual(expected);
    st.compactStep();
    expect({ b: read('b'), e: read('e'), s: read('s') }).toEqual(expected);
  });
});

describe('history rollups', () => {
  const { store, all } = store3000();
  const q = { deviceId: 'd', metric: 't' } as const;

  function truth(size: number, from: number, to: number, limit: number): HistoryPoint[] {
    const buckets = new Map<number, number[]>();
    for (const p of all) {
      const b = Math.floor(p.ts / size) * size;
      if (b >= Math.floor(from / size) * size && b <= to) buckets.set(b, [...(buckets.get(b) ?? []), p.value]);
    }
    return [...buckets.entries()]
      .sort((x, y) => x[0] - y[0])
      .slice(0, limit)
      .map(([ts, xs]) => ({ ts, min: Math.min(...xs), max: Math.max(...xs), mean: xs.reduce((s, x) => s + x, 0) / xs.length, count: xs.length }));
  }

  function expectClose(actual: HistoryPoint[], expected: HistoryPoint[]): void {
    expect(actual.map(({ mean: _, ...p }) => p)).toEqual(expected.map(({ mean: _, ...p }) => p));
    actual.forEach((p, i) => expect(p.mean).toBeCloseTo(expected[i]!.mean!, 9));
  }

  it.each([['minute', MIN], ['hour', 60 * MIN]] as const)('%s buckets: start in [bucket of from, to], first `limit`', (step, size) => {
    expectClose(store.history({ ...q, step, from: 0, to: T0 * 2, limit: 1e9 }), truth(size, 0, T0 * 2, 1e9));
    // from inside a bucket includes that bucket; a bucket starting exactly at `to` is included
    const from = T0 + 5 * size + size / 2;
    const to = T0 + 20 * size;
    const got = store.history({ ...q, step, from, to, limit: 1e9 });
    expect(got[0]!.ts).toBe(T0 + 5 * size);
    expect(got[got.length - 1]!.ts).toBe(T0 + 20 * size);
    expectClose(got, truth(size, from, to, 1e9));
    expectClose(store.history({ ...q, step, from, to, limit: 7 }), truth(size, from, to, 7));
  });

  it('hour buckets over the whole range agree with minute buckets', () => {
    const minutes = store.history({ ...q, step: 'minute', from: 0, to: T0 * 2, limit: 1e9 });
    const hours = store.history({ ...q, step: 'hour', from: 0, to: T0 * 2, limit: 1e9 });
    expect(hours.reduce((s, h) => s + h.count!, 0)).toBe(all.length);
    expect(minutes.reduce((s, m) => s + m.count!, 0)).toBe(all.length);
    for (const h of hours) {
      const inside = minutes.filter((m) => m.ts >= h.ts && m.ts < h.ts + 60 * MIN);
      expect(h.min).toBe(Math.min(...inside.map((m) => m.min!)));
      expect(h.max).toBe(Math.max(...inside.map((m) => m.max!)));
    }
  });
});
