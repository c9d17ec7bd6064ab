import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { HubStore } from '../hub-store.js';
import { CHUNK_MAX_SPAN_MS } from '../migrations/0001-initial.js';
import { BUCKET_MS } from '../rollups.js';
import { ReadingLedger } from '../testing/reading-ledger.js';
import { StoreFixture, batchOf, float, int, newDevice, prng } from '../testing/store-fixture.js';
import { readStoredState, roundedRollups } from '../testing/stored-state.js';
import type { ReadingRow } from '../types.js';
import type { PassLimits } from './pass.js';
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
