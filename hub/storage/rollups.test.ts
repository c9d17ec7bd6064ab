import { afterAll, describe, expect, it } from '@jest/globals';
import type { Value } from '../../protocol/types.js';
import { BUCKET_MS, aggregateSorted, bucketOf } from './rollups.js';
import { StoreFixture, batchOf, newDevice, prng } from './testing/store-fixture.js';
import type { HistoryPoint, HistoryStep, ReadingRow } from './types.js';

const fx = new StoreFixture();
afterAll(() => fx.cleanup());

const T0 = 1_700_000_000_000;

/** The rollups computed the slow, obvious way from every reading. */
function bruteForce(readings: Array<{ ts: number; x: number }>, size: number, from: number, to: number): HistoryPoint[] {
  const buckets = new Map<number, number[]>();
  for (const r of readings) {
    const b = Math.floor(r.ts / size) * size;
    if (b < Math.floor(from / size) * size || b > to) continue;
    buckets.set(b, [...(buckets.get(b) ?? []), r.x]);
  }
  return [...buckets.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([ts, xs]) => ({ ts, min: Math.min(...xs), max: Math.max(...xs), mean: xs.reduce((s, x) => s + x, 0) / xs.length, count: xs.length }));
}

function expectRollups(actual: HistoryPoint[], expected: HistoryPoint[]): void {
  expect(actual.map(({ mean: _, ...p }) => p)).toEqual(expected.map(({ mean: _, ...p }) => p));
  actual.forEach((p, i) => expect(p.mean).toBeCloseTo(expected[i]!.mean!, 6));
}

describe('aggregateSorted', () => {
  it('splits sorted readings into consecutive buckets', () => {
    expect(aggregateSorted([0, 59_999, 60_000, 60_001, 180_000], [3, 1, 5, -5, 2], 60_000)).toEqual([
      { bucket: 0, min: 1, max: 3, sum: 4, count: 2 },
      { bucket: 60_000, min: -5, max: 5, sum: 0, count: 2 },
      { bucket: 180_000, min: 2, max: 2, sum: 2, count: 1 },
    ]);
    expect(bucketOf(T0 + 1, BUCKET_MS.hour)).toBe(Math.floor((T0 + 1) / 3_600_000) * 3_600_000);
  });
});

describe('rollups', () => {
  it.each(['float', 'int', 'bool'] as const)(
    'match a brute-force computation for a %s series, with out-of-order readings and many compaction passes per bucket',
    (type) => {
      const store = fx.open();
      store.addDevice(newDevice('d'));
      const s = store.seriesId('d', 'm', type);
      const rand = prng(type.length * 7919);
      const all: Array<{ ts: number; x: number }> = [];
      const span = 3 * 3_600_000; // three hours: ~180 minute buckets, 4 hour buckets
      const check = (): void => {
        for (const step of ['minute', 'hour'] as Array<Exclude<HistoryStep, 'raw'>>) {
          const size = BUCKET_MS[step];
          // the whole range, and a window whose edges fall inside buckets
          for (const [from, to] of [[0, T0 * 2], [T0 + 0.3 * span, T0 + 0.7 * span]] as Array<[number, number]>) {
            const got = store.history({ deviceId: 'd', metric: 'm', from, to, step, limit: 1e9 });
            expectRollups(got, bruteForce(all, size, from, to));
          }
        }
      };
      for (let batch = 0; batch < 40; batch++) {
        const readings: ReadingRow[] = [];
        for (let i = 0; i < 50; i++) {
          const ts = T0 + Math.floor(rand() * span); // arrival order unrelated to time order
          const raw = rand();
          const value: Value =
            type === 'float' ? { type, value: (raw - 0.5) * 1000 }
            : type === 'int' ? { type, value: Math.floor((raw - 0.5) * 1e6) }
            : { type, value: raw < 0.3 };
          all.push({ ts, x: type === 'bool' ? (raw < 0.3 ? 1 : 0) : (value.value as number) });
          readings.push({ series: s, ts, value });
        }
        store.commit(batchOf(readings, { d: batch + 1 }));
        if (batch % 3 === 0) store.compactStep(Math.floor(rand() * 120)); // often partial: buckets merge over many passes
        if (batch % 10 === 0) check();
      }
      check();
      while (store.compactStep(97) > 0);
      check();
    },
  );

  it('count a fresh reading at once, before compaction, in the newest bucket', () => {
    const store = fx.open();
    store.addDevice(newDevice('d'));
    const s = store.seriesId('d', 't', 'float');
    const q = { deviceId: 'd', metric: 't', from: T0, to: T0 + 3_600_000, limit: 100 } as const;
    store.commit(batchOf([{ series: s, ts: T0 + 1000, value: { type: 'float', value: 10 } }], { d: 1 }));
    store.compactStep();
    store.commit(batchOf([{ series: s, ts: T0 + 2000, value: { type: 'float', value: 20 } }], { d: 2 }));
    expect(store.history({ ...q, step: 'minute' })).toEqual([{ ts: bucketOf(T0, 60_000), min: 10, max: 20, mean: 15, count: 2 }]);
    expect(store.history({ ...q, step: 'hour' })).toEqual([{ ts: bucketOf(T0, 3_600_000), min: 10, max: 20, mean: 15, count: 2 }]);
  });

  it('are not kept for string and enum series', () => {
    const store = fx.open();
    store.addDevice(newDevice('d'));
    const str = store.seriesId('d', 's', 'string');
    const en = store.seriesId('d', 'e', 'enum');
    store.commit(batchOf([{ series: str, ts: T0, value: { type: 'string', value: 'x' } }, { series: en, ts: T0, value: { type: 'enum', value: 1 } }], { d: 1 }));
    store.compactStep();
    for (const metric of ['s', 'e']) {
      for (const step of ['minute', 'hour'] as const) {
        expect(store.history({ deviceId: 'd', metric, from: 0, to: T0 * 2, step, limit: 10 })).toEqual([]);
      }
      expect(store.history({ deviceId: 'd', metric, from: 0, to: T0 * 2, step: 'raw', limit: 10 })).toHaveLength(1);
    }
  });
});
