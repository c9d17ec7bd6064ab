import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { CHUNK_MAX_READINGS } from './compaction/compactor.js';
import { HubStore } from './hub-store.js';
import { CHUNK_MAX_SPAN_MS } from './migrations/0001-initial.js';
import { StoreFixture, batchOf, float, newDevice, prng } from './testing/store-fixture.js';
import type { HistoryPoint, ReadingRow } from './types.js';

const fx = new StoreFixture();
afterAll(() => fx.cleanup());

const T0 = 1_700_000_000_000;
const METRICS = [['temperature', 'float'], ['count', 'int'], ['on', 'bool'], ['status', 'string'], ['mode', 'enum']] as const;

/** A store with 3 devices x 5 metrics and `batches` random batches: jittered, out-of-order and duplicate timestamps. */
function populated(batches: number, seed: number): { store: HubStore; path: string; total: number; series: Array<[string, string]> } {
  const path = join(fx.dir(), 'hub.db');
  const store = fx.track(new HubStore({ path }));
  store.open();
  const rand = prng(seed);
  const series: Array<[string, string]> = [];
  const ids: Array<{ id: number; type: (typeof METRICS)[number][1] }> = [];
  for (const d of ['a', 'b', 'c']) {
    store.addDevice(newDevice(d));
    for (const [metric, type] of METRICS) {
      ids.push({ id: store.seriesId(d, metric, type), type });
      series.push([d, metric]);
    }
  }
  let total = 0;
  for (let b = 0; b < batches; b++) {
    const readings: ReadingRow[] = [];
    for (let i = 0; i < 40; i++) {
      const s = ids[Math.floor(rand() * ids.length)]!;
      // Mostly advancing time, sometimes far back (a device's backlog), sometimes a repeated timestamp.
      const ts = rand() < 0.1 ? T0 + Math.floor(rand() * b * 5000) : T0 + b * 5000 + Math.floor(rand() * 5000);
      const x = rand();
      const value =
        s.type === 'float' ? float(Math.round(x * 10000) / 100)
        : s.type === 'int' ? ({ type: 'int', value: Math.floor(x * 1000) - 500 } as const)
        : s.type === 'bool' ? ({ type: 'bool', value: x < 0.5 } as const)
        : s.type === 'string' ? ({ type: 'string', value: `s${Math.floor(x * 5)}` } as const)
        : ({ type: 'enum', value: Math.floor(x * 4) } as const);
      readings.push({ series: s.id, ts, value });
      if (rand() < 0.05) readings.push({ series: s.id, ts, value }); // exact duplicate
    }
    total += readings.length;
    store.commit(batchOf(readings, { a: b + 1, b: b + 1, c: b + 1 }));
  }
  return { store, path, total, series };
}

function everyHistory(store: HubStore, series: Array<[string, string]>): HistoryPoint[][] {
  return series.map(([deviceId, metric]) => store.history({ deviceId, metric, from: 0, to: T0 * 2, step: 'raw', limit: 1e9 }));
}

function chunkRows(path: string): Array<{ series: number; t_min: number; t_max: number; n: number }> {
  const raw = new Database(path, { readonly: true });
  try {
    return raw.prepare('SELECT series, t_min, t_max, n FROM chunks').all() as Array<{ series: number; t_min: number; t_max: number; n: number }>;
  } finally {
    raw.close();
  }
}

describe('compactStep', () => {
  it('moves every reading exactly once [FP-8.7], and history is identical before, during and after', () => {
    const { store, path, total, series } = populated(60, 1);
    const before = everyHistory(store, series);
    expect(before.flat()).toHaveLength(total);
    const rand = prng(2);
    let moved = 0;
    for (;;) {
      const n = store.compactStep(1 + Math.floor(rand() * 300));
      if (n === 0) break;
      moved += n;
      const stats = store.stats();
      expect(stats.pendingLogRows).toBe(total - moved);
      expect(stats.storedReadings).toBe(total);
      expect(chunkRows(path).reduce((sum, c) => sum + c.n, 0)).toBe(moved);
      expect(everyHistory(store, series)).toEqual(before);
    }
    expect(moved).toBe(total);
    expect(store.stats().pendingLogRows).toBe(0);
  });

  it('cuts chunks at CHUNK_MAX_READINGS and CHUNK_MAX_SPAN_MS, and fills the newest chunk over several passes', () => {
    const path = join(fx.dir(), 'hub.db');
    const store = fx.track(new HubStore({ path }));
    store.open();
    store.addDevice(newDevice('d'));
    const s = store.seriesId('d', 't', 'float');
    const n = 2000;
    // One reading a minute: 2000 minutes cross the 6 h span limit several times.
    for (let i = 0; i < n; i += 10) {
      store.commit(batchOf(Array.from({ length: 10 }, (_, j) => ({ series: s, ts: T0 + (i + j) * 60_000, value: float(i + j) })), { d: i + 1 }));
      store.compactStep(); // a pass per 10 readings: the open chunk keeps taking them
    }
    const chunks = chunkRows(path);
    expect(chunks.reduce((sum, c) => sum + c.n, 0)).toBe(n);
    for (const c of chunks) {
      expect(c.n).toBeLessThanOrEqual(CHUNK_MAX_READINGS);
      expect(c.t_max - c.t_min).toBeLessThanOrEqual(CHUNK_MAX_SPAN_MS);
    }
    // Full chunks, bar one per span boundary and the open one.
    const spanCuts = Math.ceil((n * 60_000) / CHUNK_MAX_SPAN_MS);
    expect(chunks.length).toBeLessThanOrEqual(Math.ceil(n / CHUNK_MAX_READINGS) + spanCuts + 1);
    const points = store.history({ deviceId: 'd', metric: 't', from: 0, to: T0 * 2, step: 'raw', limit: 1e9 });
    expect(points).toEqual(Array.from({ length: n }, (_, i) => ({ ts: T0 + i * 60_000, value: i })));
  });

  it('is one transaction: a failure inside leaves the log, chunks, rollups and latest values as they were', () => {
    const { store, path, total, series } = populated(10, 3);
    const before = everyHistory(store, series);
    const minuteBefore = store.history({ deviceId: 'c', metric: 'temperature', from: 0, to: T0 * 2, step: 'minute', limit: 1e9 });
    const latestBefore = store.latest('a');
    const lastSeries = store.seriesId('c', 'mode', 'enum');
    // Fail on the chunk of the last series, after every other series' chunk, rollups and latest were written.
    const saboteur = new Database(path);
    saboteur.exec(`CREATE TRIGGER sabotage BEFORE INSERT ON chunks WHEN NEW.series = ${lastSeries} BEGIN SELECT RAISE(ABORT, 'injected failure'); END`);
    expect(() => store.compactStep()).toThrow(/injected failure/);
    expect(store.stats()).toMatchObject({ pendingLogRows: total, chunks: 0, storedReadings: total });
    const counts = saboteur.prepare('SELECT (SELECT count(*) FROM rollup_minute) + (SELECT count(*) FROM rollup_hour) + (SELECT count(*) FROM series_latest) AS n').get();
    expect(counts).toEqual({ n: 0 });
    expect(everyHistory(store, series)).toEqual(before);
    expect(store.latest('a')).toEqual(latestBefore);
    saboteur.exec('DROP TRIGGER sabotage');
    saboteur.close();
    expect(store.compactStep()).toBe(total);
    expect(everyHistory(store, series)).toEqual(before);
    const minuteAfter = store.history({ deviceId: 'c', metric: 'temperature', from: 0, to: T0 * 2, step: 'minute', limit: 1e9 });
    // Sums may round differently once added in another order: mean is compared to 9 digits.
    expect(minuteAfter.map(({ mean: _, ...p }) => p)).toEqual(minuteBefore.map(({ mean: _, ...p }) => p));
    minuteAfter.forEach((p, i) => expect(p.mean).toBeCloseTo(minuteBefore[i]!.mean!, 9));
    expect(store.latest('a')).toEqual(latestBefore);
  });
});
