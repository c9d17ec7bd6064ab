import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { HubStore } from '../hub-store.js';
import { CHUNK_MAX_SPAN_MS } from '../migrations/0001-initial.js';
import { BUCKET_MS } from '../rollups.js';
import { ReadingLedger } from '../testing/reading-ledger.js';
import { StoreFixture, batchOf, float, int, newDevice, prng } from '../testing/store-fixture.js';
import { readStoredState, roundedRollups } from '../testing/stored-state.js';
import type { HistoryPoint, ReadingRow } from '../types.js';
import { CHUNK_MAX_READINGS, type PassLimits } from './pass.js';
import { CompactionStore } from './store.js';

const fx = new StoreFixture();
const compactors: CompactionStore[] = [];
afterAll(() => {
  for (const c of compactors) c.close();
  fx.cleanup();
});

const T0 = 1_700_000_000_000;

/** A hub store (the main thread's connection) and a compaction store (the worker's) on one file. */
function setup(devices: number, metrics: number): { store: HubStore; compactor: CompactionStore; path: string; series: number[] } {
  const path = join(fx.dir(), 'hub.db');
  const store = fx.track(new HubStore({ path }));
  store.open();
  const compactor = new CompactionStore({ path });
  compactor.open();
  compactors.push(compactor);
  const series: number[] = [];
  for (let d = 0; d < devices; d++) {
    store.addDevice(newDevice(`d${d}`));
    for (let m = 0; m < metrics; m++) series.push(store.seriesId(`d${d}`, `m${m}`, m % 2 === 0 ? 'float' : 'int'));
  }
  return { store, compactor, path, series };
}

/** Random readings with timestamps unique per series: mostly advancing, sometimes from a device's backlog. */
function workload(series: number[], seed: number): (n: number) => ReadingRow[] {
  const rand = prng(seed);
  const clock = new Map(series.map((s) => [s, T0]));
  const used = new Set<string>();
  return (n) => {
    const out: ReadingRow[] = [];
    while (out.length < n) {
      const s = series[Math.floor(rand() * series.length)]!;
      let ts = clock.get(s)! + 1 + Math.floor(rand() * 20_000);
      if (rand() < 0.1) ts = T0 + Math.floor(rand() * (ts - T0)); // late reading, older than the open chunk's
      if (used.has(`${s}/${ts}`)) continue;
      used.add(`${s}/${ts}`);
      clock.set(s, Math.max(clock.get(s)!, ts));
      out.push({ series: s, ts, value: s % 2 === 0 ? int(Math.floor(rand() * 1000) - 500) : float(Math.round(rand() * 10_000) / 100) });
    }
    return out;
  };
}

function expectStoredExactlyOnce(path: string, ledger: ReadingLedger): void {
  const state = readStoredState(path);
  expect(state.all).toEqual(ledger.readings());
  expect(roundedRollups(state.minute)).toEqual(roundedRollups(ledger.rollups(BUCKET_MS.minute)));
  expect(roundedRollups(state.hour)).toEqual(roundedRollups(ledger.rollups(BUCKET_MS.hour)));
}

function drain(compactor: CompactionStore, limits: PassLimits): number {
  let moved = 0;
  for (let r = compactor.compact(limits); r.rows > 0 || r.conflict; r = compactor.compact(limits)) moved += r.rows;
  return moved;
}

describe('CompactionPass', () => {
  it('moves every reading exactly once with commits between its phases and transactions [FP-8.7]', () => {
    const { store, compactor, path, series } = setup(6, 4);
    const next = workload(series, 1);
    const ledger = new ReadingLedger();
    const commit = (n: number): void => {
      const readings = next(n);
      store.commit(batchOf(readings));
      ledger.add(readings);
    };
    const rand = prng(2);
    for (let round = 0; round < 40; round++) {
      commit(50 + Math.floor(rand() * 150));
      const limits = { maxRows: 1 + Math.floor(rand() * 400), maxRowsPerTx: 1 + Math.floor(rand() * 60), maxSeriesPerTx: 1 + Math.floor(rand() * 8) };
      compactor.compact(limits, {
        beforeWrite: () => {
          // What the hub does while the worker holds no lock: commit more, and read history.
          if (rand() < 0.5) commit(1 + Math.floor(rand() * 30));
          expect(store.stats().storedReadings).toBe(ledger.size); // chunks' n plus log rows
        },
      });
      if (round % 5 === 0) expect(readStoredState(path).all).toEqual(ledger.readings());
    }
    const state = readStoredState(path);
    expect(Object.keys(state.chunks).length).toBeGreaterThan(0);
    expect(Object.keys(state.log).length).toBeGreaterThan(0); // the test did interleave: some rows wait
    drain(compactor, { maxRows: 1000, maxRowsPerTx: 100, maxSeriesPerTx: 5 });
    expect(store.stats().pendingLogRows).toBe(0);
    expectStoredExactlyOnce(path, ledger);
    expect(readStoredState(path).latestTs).toEqual(ledger.latestTs());
  });

  it('gives history the same answer before, during and after a pass', () => {
    const { store, compactor, series } = setup(2, 2);
    const next = workload(series, 3);
    store.commit(batchOf(next(600)));
    const query = (d: string, m: string, step: 'raw' | 'minute') => store.history({ deviceId: d, metric: m, from: 0, to: T0 * 2, step, limit: 1e9 });
    const all = () => ['d0', 'd1'].flatMap((d) => ['m0', 'm1'].map((m) => [query(d, m, 'raw'), query(d, m, 'minute').map((p) => [p.ts, p.min, p.max, p.count])]));
    const before = all();
    let checks = 0;
    drain(compactor, { maxRows: 150, maxRowsPerTx: 40, maxSeriesPerTx: 2 });
    compactor.compact({ maxRows: 1e6, maxRowsPerTx: 1e6, maxSeriesPerTx: 1e6 }, { beforeWrite: () => void checks++ }); // nothing left: no transaction
    expect(checks).toBe(0);
    store.commit(batchOf(next(300)));
    const mid = all();
    compactor.compact({ maxRows: 200, maxRowsPerTx: 30, maxSeriesPerTx: 1 }, {
      beforeWrite: () => {
        checks += 1;
        expect(all()).toEqual(mid);
      },
    });
    expect(checks).toBeGreaterThan(3);
    expect(before[0]![0]!.length).toBeGreaterThan(0);
  });

  it('bounds each write transaction by rows and series', () => {
    const { store, compactor, path, series } = setup(10, 4);
    const ledger = new ReadingLedger();
    const readings = workload(series, 4)(4000);
    store.commit(batchOf(readings));
    ledger.add(readings);
    const raw = new Database(path, { readonly: true });
    const logRows = raw.prepare('SELECT count(*) FROM log').pluck();
    const limits = { maxRows: 3000, maxRowsPerTx: 250, maxSeriesPerTx: 6 };
    const perTx: number[] = [];
    let last = logRows.get() as number;
    const r = compactor.compact(limits, {
      beforeWrite: () => {
        const now = logRows.get() as number;
        if (now !== last) perTx.push(last - now);
        last = now;
      },
    });
    perTx.push(last - (logRows.get() as number));
    raw.close();
    expect(r.rows).toBe(3000);
    expect(perTx.reduce((a, b) => a + b, 0)).toBe(3000);
    expect(perTx).toHaveLength(r.transactions);
    // 40 series share 3000 rows (~75 each): the series cap binds before the row cap.
    for (const n of perTx) expect(n).toBeLessThanOrEqual(limits.maxRowsPerTx);
    expect(r.maxTxRows).toBeLessThanOrEqual(limits.maxRowsPerTx);
    expect(r.maxTxSeries).toBeLessThanOrEqual(limits.maxSeriesPerTx);
    expect(r.transactions).toBeGreaterThanOrEqual(Math.ceil(3000 / limits.maxRowsPerTx));
    drain(compactor, limits);
    expectStoredExactlyOnce(path, ledger);
  });

  it('drops the rest of a pass when a device is removed between its phases, and redoes it', () => {
    const { store, compactor, path, series } = setup(3, 2);
    const readings = workload(series, 5)(300);
    store.commit(batchOf(readings));
    const r = compactor.compact({ maxRows: 1000, maxRowsPerTx: 1000, maxSeriesPerTx: 1000 }, { beforeWrite: () => store.removeDevice('d1') });
    expect(r).toMatchObject({ conflict: true, rows: 0, transactions: 0 });
    expect(drain(compactor, { maxRows: 1000, maxRowsPerTx: 50, maxSeriesPerTx: 2 })).toBe(readings.filter((x) => series.indexOf(x.series) < 2 || series.indexOf(x.series) >= 4).length);
    const kept = new ReadingLedger();
    kept.add(readings.filter((x) => series.indexOf(x.series) < 2 || series.indexOf(x.series) >= 4));
    expectStoredExactlyOnce(path, kept);
  });

  it('drops the rest of a pass when a series is retyped (its rows compacted by the hub) meanwhile: no reading twice', () => {
    const { store, compactor, path, series } = setup(2, 2);
    const ledger = new ReadingLedger();
    const readings = workload(series, 6)(400);
    store.commit(batchOf(readings));
    ledger.add(readings);
    let tx = 0;
    const r = compactor.compact({ maxRows: 1000, maxRowsPerTx: 60, maxSeriesPerTx: 1 }, {
      beforeWrite: () => {
        // After the first group is written, the hub sees d1/m1 turn from int to float.
        if (tx++ === 1) expect(store.seriesId('d1', 'm1', 'float')).toBe(series[3]);
      },
    });
    expect(r.conflict).toBe(true);
    expect(r.transactions).toBe(1);
    drain(compactor, { maxRows: 1000, maxRowsPerTx: 1000, maxSeriesPerTx: 1000 });
    expect(store.stats().pendingLogRows).toBe(0);
    expectStoredExactlyOnce(path, ledger);
  });

  it('drops log rows whose device is gone (committed after its removal) without failing the pass', () => {
    const { store, compactor, path, series } = setup(2, 2);
    const ledger = new ReadingLedger();
    const kept = workload(series.slice(0, 2), 8)(100);
    store.commit(batchOf(kept));
    ledger.add(kept);
    store.removeDevice('d1');
    // The ingest committed these for d1 after its removal (the batch was already on its way).
    store.commit(batchOf([{ series: series[2]!, ts: T0, value: int(1) }, { series: series[3]!, ts: T0, value: float(1) }]));
    expect(store.stats().pendingLogRows).toBe(102);
    expect(drain(compactor, { maxRows: 1000, maxRowsPerTx: 30, maxSeriesPerTx: 1 })).toBe(102);
    expect(store.stats().pendingLogRows).toBe(0);
    expectStoredExactlyOnce(path, ledger);
  });

  it('rolls a failed write transaction back whole: its rows stay in the log for the next pass', () => {
    const { store, compactor, path, series } = setup(2, 2);
    const ledger = new ReadingLedger();
    const readings = workload(series, 7)(400);
    store.commit(batchOf(readings));
    ledger.add(readings);
    const saboteur = new Database(path);
    saboteur.exec(`CREATE TRIGGER sabotage BEFORE INSERT ON series_latest WHEN NEW.series = ${series[2]} BEGIN SELECT RAISE(ABORT, 'injected failure'); END`);
    expect(() => compactor.compact({ maxRows: 1000, maxRowsPerTx: 1000, maxSeriesPerTx: 1 })).toThrow(/injected failure/);
    const state = readStoredState(path);
    expect(state.all).toEqual(ledger.readings());
    expect(state.log[series[2]!]).toEqual(ledger.readings()[series[2]!]);
    expect(state.chunks[series[2]!]).toBeUndefined();
    saboteur.exec('DROP TRIGGER sabotage');
    saboteur.close();
    drain(compactor, { maxRows: 1000, maxRowsPerTx: 1000, maxSeriesPerTx: 1000 });
    expectStoredExactlyOnce(path, ledger);
  });

  it('retention steps on its own connection delete at most the step size', () => {
    const path = join(fx.dir(), 'hub.db');
    const store = fx.track(new HubStore({ path }));
    store.open();
    store.addDevice(newDevice('d'));
    const s = store.seriesId('d', 't', 'float');
    store.commit(batchOf(Array.from({ length: 300 }, (_, i) => ({ series: s, ts: T0 + i * 3_600_000, value: float(i) }))));
    const compactor = new CompactionStore({ path, now: () => T0 + 350 * 3_600_000, retention: { rawMs: 100 * 3_600_000 } });
    compactor.open();
    compactors.push(compactor);
    drain(compactor, { maxRows: 1000, maxRowsPerTx: 1000, maxSeriesPerTx: 1000 });
    const chunks = store.stats().chunks;
    expect(compactor.retentionStep(2)).toBe(2);
    expect(store.stats().chunks).toBe(chunks - 2);
    while (compactor.retentionStep(100) > 0);
    const left = store.history({ deviceId: 'd', metric: 't', from: 0, to: T0 * 2, step: 'raw', limit: 1e9 });
    expect(left.length).toBeGreaterThan(0);
    // Whole chunks go: the oldest left may start up to one chunk span before the cut.
    expect(left[0]!.ts).toBeGreaterThanOrEqual(T0 + 250 * 3_600_000 - CHUNK_MAX_SPAN_MS);
    expect(left[0]!.ts).toBeLessThan(T0 + 250 * 3_600_000);
  });
});

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

describe('HubStore.compactStep (CompactionPass.moveOldest)', () => {
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
