import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { eventually } from '../../../test/support/eventually.js';
import { HubStore } from '../hub-store.js';
import { BUCKET_MS } from '../rollups.js';
import { bundleForWorker } from '../testing/bundle-for-worker.js';
import { ReadingLedger } from '../testing/reading-ledger.js';
import { StoreFixture, batchOf, float, int, newDevice, prng } from '../testing/store-fixture.js';
import { readStoredState, roundedRollups } from '../testing/stored-state.js';
import type { ReadingRow } from '../types.js';
import type { ErrorInfo } from './messages.js';
import { CompactionRunner, type CompactionRunnerOptions } from './runner.js';

const fx = new StoreFixture();
const runners: CompactionRunner[] = [];
afterAll(async () => {
  for (const r of runners) await r.stop();
  fx.cleanup();
});

const T0 = 1_700_000_000_000;
const HERE = fileURLToPath(new URL('.', import.meta.url));
let workerUrl: URL;
beforeAll(async () => {
  // The worker from the sources under test, bundled as `npm run build` would compile it.
  workerUrl = await bundleForWorker(new URL('./worker.ts', import.meta.url), fx.dir());
});

/** Schedules that compact as soon as anything is waiting, in small bounded transactions. */
const EAGER: CompactionRunnerOptions['schedule'] = {
  minRows: 1,
  maxAgeMs: 0,
  checkEveryMs: 2,
  errorRetryMs: 5,
  limits: { maxRows: 1500, maxRowsPerTx: 300, maxSeriesPerTx: 16 },
};

function setup(mode: 'worker' | 'inline'): { store: HubStore; path: string; runner: CompactionRunner; series: number[]; next: (n: number) => ReadingRow[] } {
  const path = join(fx.dir(), 'hub.db');
  const store = fx.track(new HubStore({ path }));
  store.open();
  const series: number[] = [];
  for (let d = 0; d < 12; d++) {
    store.addDevice(newDevice(`d${d}`));
    for (let m = 0; m < 4; m++) series.push(store.seriesId(`d${d}`, `m${m}`, m % 2 === 0 ? 'float' : 'int'));
  }
  const runner = new CompactionRunner({ path, mode, schedule: EAGER, ...(mode === 'worker' ? { workerUrl: workerUrl } : {}) });
  runners.push(runner);
  const rand = prng(mode === 'worker' ? 11 : 12);
  const clock = new Map(series.map((s) => [s, T0]));
  const next = (n: number): ReadingRow[] =>
    Array.from({ length: n }, () => {
      const s = series[Math.floor(rand() * series.length)]!;
      const ts = clock.get(s)! + 1 + Math.floor(rand() * 5000); // unique per series
      clock.set(s, ts);
      return { series: s, ts, value: s % 2 === 0 ? int(Math.floor(rand() * 100)) : float(Math.round(rand() * 1000) / 10) };
    });
  return { store, path, runner, series, next };
}

function expectStoredExactlyOnce(path: string, ledger: ReadingLedger): void {
  const state = readStoredState(path);
  expect(state.log).toEqual({});
  expect(state.all).toEqual(ledger.readings());
  expect(roundedRollups(state.minute)).toEqual(roundedRollups(ledger.rollups(BUCKET_MS.minute)));
  expect(roundedRollups(state.hour)).toEqual(roundedRollups(ledger.rollups(BUCKET_MS.hour)));
  expect(state.latestTs).toEqual(ledger.latestTs());
}

/** Commits `rounds` batches while the runner compacts, checking one series' history against the ledger after each. */
async function ingestWhileCompacting(
  env: ReturnType<typeof setup>,
  ledger: ReadingLedger,
  rounds: number,
): Promise<number> {
  const { store, series, next } = env;
  const ids = new Map<number, [string, string]>();
  series.forEach((s, i) => ids.set(s, [`d${Math.floor(i / 4)}`, `m${i % 4}`]));
  const expected = ledger.readings;
  let checked = 0;
  for (let round = 0; round < rounds; round++) {
    const readings = next(400);
    store.commit(batchOf(readings));
    ledger.add(readings);
    const s = series[round % series.length]!;
    const [deviceId, metric] = ids.get(s)!;
    const points = store.history({ deviceId, metric, from: 0, to: T0 * 2, step: 'raw', limit: 1e9 }).map((p) => [p.ts, p.value]);
    expect(points).toEqual(expected.call(ledger)[s] ?? []);
    checked += points.length;
    // Let the runner's timers (inline) and messages (worker) through between batches.
    await new Promise((r) => setImmediate(r));
  }
  return checked;
}

describe.each(['worker', 'inline'] as const)('CompactionRunner (%s)', (mode) => {
  it('moves everything exactly once while the main thread commits, and history stays consistent [FP-8.7]', async () => {
    const env = setup(mode);
    const ledger = new ReadingLedger();
    await env.runner.start();
    env.store.attachCompaction(env.runner.gate); // as CompactionService does: commits go first
    expect(env.runner.stats()).toMatchObject({ mode, running: true });
    const checked = await ingestWhileCompacting(env, ledger, 60);
    expect(checked).toBeGreaterThan(0);
    await eventually(() => expect(env.store.stats().pendingLogRows).toBe(0));
    const stats = env.runner.stats();
    expect(stats.rowsMoved).toBe(ledger.size);
    expect(stats.passes).toBeGreaterThan(1);
    expect(stats.errors).toBe(0);
    await env.runner.stop();
    expect(env.runner.stats().running).toBe(false);
    expectStoredExactlyOnce(env.path, ledger);
  });

  it('reports a failing pass, retries it, and loses nothing', async () => {
    const env = setup(mode);
    const ledger = new ReadingLedger();
    const saboteur = new Database(env.path);
    saboteur.exec(`CREATE TRIGGER sabotage BEFORE INSERT ON chunks WHEN NEW.series = ${env.series[5]} BEGIN SELECT RAISE(ABORT, 'injected failure'); END`);
    const errors: ErrorInfo[] = [];
    const firstError = new Promise<void>((resolve) => env.runner.on('error', (e) => (errors.push(e), resolve())));
    await env.runner.start();
    await ingestWhileCompacting(env, ledger, 5);
    await firstError;
    expect(errors[0]).toMatchObject({ code: 'SQLITE_CONSTRAINT_TRIGGER', message: 'injected failure' });
    expect(env.runner.stats().lastError?.message).toBe('injected failure');
    // Every reading of the sabotaged series is still in the log, none in chunks.
    expect(readStoredState(env.path).log[env.series[5]!]).toEqual(ledger.readings()[env.series[5]!]);
    saboteur.exec('DROP TRIGGER sabotage');
    saboteur.close();
    await eventually(() => expect(env.store.stats().pendingLogRows).toBe(0));
    await env.runner.stop();
    expect(env.runner.stats().errors).toBeGreaterThanOrEqual(1);
    expectStoredExactlyOnce(env.path, ledger);
  });

  it('runNow() runs a pass on demand and stop() waits for it', async () => {
    const env = setup(mode);
    const runner = new CompactionRunner({ path: env.path, mode, schedule: { minRows: 1e9, maxAgeMs: 1e9 }, ...(mode === 'worker' ? { workerUrl: workerUrl } : {}) });
    runners.push(runner);
    await runner.start();
    const readings = env.next(700);
    env.store.commit(batchOf(readings));
    const result = runner.runNow();
    const stopped = runner.stop();
    expect((await result).rows).toBe(700);
    await stopped;
    expect(env.store.stats()).toMatchObject({ pendingLogRows: 0, storedReadings: 700 });
    await expect(runner.runNow()).rejects.toThrow(/not running/);
  });
});

describe('CompactionRunner (worker), history under a stream of small passes', () => {
  it('never shows a reading twice or not at all: history reads log and chunks in one snapshot', async () => {
    const env = setup('worker');
    const runner = new CompactionRunner({
      path: env.path,
      mode: 'worker',
      workerUrl: workerUrl,
      schedule: { ...EAGER, checkEveryMs: 0, limits: { maxRows: 60, maxRowsPerTx: 15, maxSeriesPerTx: 48 } },
    });
    runners.push(runner);
    const ledger = new ReadingLedger();
    const readings = env.next(12_000);
    env.store.commit(batchOf(readings));
    ledger.add(readings);
    const expected = ledger.readings();
    await runner.start();
    let queries = 0;
    // Many small transactions land while these queries run, some between a query's log and chunk reads.
    while (env.store.stats().pendingLogRows > 0) {
      for (let d = 0; d < 12; d += 3) {
        const points = env.store.history({ deviceId: `d${d}`, metric: 'm1', from: 0, to: T0 * 2, step: 'raw', limit: 1e9 });
        expect(points.map((p) => [p.ts, p.value])).toEqual(expected[env.series[d * 4 + 1]!]);
        queries += 1;
      }
      await new Promise((r) => setImmediate(r));
    }
    await runner.stop();
    expect(runner.stats().transactions).toBeGreaterThanOrEqual(12_000 / 15);
    expect(queries).toBeGreaterThan(0); // how many overlap depends on the machine; each one checked all of its points
  });
});

describe('CompactionRunner', () => {
  it('reports a worker that dies and starts another', async () => {
    const path = join(fx.dir(), 'hub.db');
    fx.track(new HubStore({ path })).open();
    // A stand-in worker: says it is ready, then dies as a crashed one would.
    const dying = `import { parentPort } from 'node:worker_threads'; parentPort.postMessage({ type: 'ready', backlog: 0 }); setTimeout(() => process.exit(3), 5);`;
    const runner = new CompactionRunner({ path, mode: 'worker', workerUrl: new URL(`data:text/javascript,${encodeURIComponent(dying)}`), schedule: { errorRetryMs: 1 } });
    runners.push(runner);
    const errors: ErrorInfo[] = [];
    runner.on('error', (e) => errors.push(e));
    await runner.start();
    await eventually(() => expect(errors.length).toBeGreaterThanOrEqual(2)); // died, restarted, died again
    expect(errors[0]).toEqual({ code: 'HUB_ERR_COMPACTION_WORKER_EXIT', message: 'compaction worker exited with code 3; restarting it' });
    await runner.stop();
    const count = errors.length;
    expect(runner.stats()).toMatchObject({ running: false, errors: count });
  });

  it("runs inline when the worker file is not next to it (jest runs the .ts source), or as asked", async () => {
    const path = join(fx.dir(), 'hub.db');
    fx.track(new HubStore({ path })).open();
    const auto = new CompactionRunner({ path });
    runners.push(auto);
    await auto.start();
    expect(auto.stats().mode).toBe('inline');
    await auto.stop();
    const missing = new CompactionRunner({ path, mode: 'worker', workerUrl: new URL(`file://${join(HERE, 'no-such-worker.js')}`) });
    runners.push(missing);
    await expect(missing.start()).rejects.toThrow();
    expect(missing.stats().running).toBe(false);
  });
});
