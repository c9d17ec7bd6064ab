import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { eventually } from '../../../test/support/eventually.js';
import { createLogger } from '../../logger.js';
import { HubStore } from '../hub-store.js';
import { bundleForWorker } from '../testing/bundle-for-worker.js';
import { StoreFixture, batchOf, float, newDevice } from '../testing/store-fixture.js';
import { WriteGate } from '../write-gate.js';
import type { JournalSettings } from '../journal/ingest-journal.js';
import { COMPACTION_DEFAULTS } from './loop.js';
import { CompactionService } from './service.js';

const fx = new StoreFixture();
const services: CompactionService[] = [];
afterAll(async () => {
  for (const s of services) await s.stop();
  fx.cleanup();
});

const T0 = 1_700_000_000_000;
const EAGER = { minRows: 1, maxAgeMs: 0, checkEveryMs: 2, errorRetryMs: 5 };
let workerUrl: URL;
beforeAll(async () => {
  // The worker from the sources under test, bundled as `npm run build` would compile it.
  workerUrl = await bundleForWorker(new URL('./worker.ts', import.meta.url), fx.dir());
});

/** A logger whose records (parsed JSON) land in `records`. */
function memoryLog(): { log: ReturnType<typeof createLogger>; records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      for (const line of chunk.toString().split('\n')) if (line) records.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger('debug', { pretty: false, destination: sink }), records };
}

function storeWithReadings(n: number): { store: HubStore; path: string } {
  const path = join(fx.dir(), 'hub.db');
  const store = fx.track(new HubStore({ path }));
  store.open();
  store.addDevice(newDevice('d'));
  const s = store.seriesId('d', 't', 'float');
  store.commit(batchOf(Array.from({ length: n }, (_, i) => ({ series: s, ts: T0 + i * 1000, value: float(i) }))));
  return { store, path };
}

describe('CompactionService', () => {
  it('starts the worker, attaches its gate to the store, reports its stats, and stop() closes it', async () => {
    const { store, path } = storeWithReadings(500);
    const attach = jest.spyOn(store, 'attachCompaction');
    const { log, records } = memoryLog();
    const service = new CompactionService({ store, log, now: Date.now, compaction: { mode: 'worker', workerUrl, schedule: EAGER } });
    services.push(service);
    expect(service.stats()).toBeUndefined();
    service.start();
    expect(service.stats()).toMatchObject({ mode: 'worker', running: true });
    await eventually(() => expect(store.stats().pendingLogRows).toBe(0));
    await eventually(() => expect(records).toContainEqual(expect.objectContaining({ msg: 'compaction started', mode: 'worker' })));
    expect(attach).toHaveBeenLastCalledWith(expect.any(WriteGate));
    expect(service.stats()).toMatchObject({ mode: 'worker', running: true, rowsMoved: 500, errors: 0 });

    await service.stop();
    expect(attach).toHaveBeenLastCalledWith(undefined);
    expect(service.stats()).toBeUndefined();
    // SQLite deletes the WAL when the last connection to the file closes: the worker's has closed too.
    store.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
    expect(records.filter((r) => r.level === 50)).toEqual([]);
  });

  it('logs a failure to start instead of throwing, and stops cleanly after it', async () => {
    const { store } = storeWithReadings(10);
    const { log, records } = memoryLog();
    const missing = new URL(`file://${join(fx.dir(), 'no-such-worker.js')}`);
    const service = new CompactionService({ store, log, now: Date.now, compaction: { mode: 'worker', workerUrl: missing } });
    services.push(service);
    expect(() => service.start()).not.toThrow();
    await eventually(() => expect(records).toContainEqual(expect.objectContaining({ level: 50, msg: 'compaction could not start; readings stay in the log' })));
    expect(service.stats()).toMatchObject({ running: false });
    expect(store.stats().pendingLogRows).toBe(10);
    await expect(service.stop()).resolves.toBeUndefined();
  });

  it('runs inline under jest by default (the worker file is not built next to the source)', async () => {
    const { store } = storeWithReadings(50);
    const { log } = memoryLog();
    const service = new CompactionService({ store, log, now: Date.now, compaction: { schedule: EAGER } });
    services.push(service);
    service.start();
    await eventually(() => expect(store.stats().pendingLogRows).toBe(0));
    expect(service.stats()).toMatchObject({ mode: 'inline', running: true, rowsMoved: 50 });
    await service.stop();
    expect(service.stats()).toBeUndefined();
  });
  it('compacts a journaled hub in one write transaction a pass, a hub without the journal in the short ones', async () => {
    const transactions = async (journal: JournalSettings | undefined): Promise<number> => {
      const path = join(fx.dir(), 'hub.db');
      const store = fx.track(new HubStore({ path, ...(journal && { journal }) }));
      store.open();
      store.addDevice(newDevice('d'));
      // 300 series of 10 readings: 3,000 rows, two to three transactions' worth of the defaults.
      const series = Array.from({ length: 300 }, (_, m) => store.seriesId('d', `m${m}`, 'float'));
      store.commit(batchOf(series.flatMap((s) => Array.from({ length: 10 }, (_, i) => ({ series: s, ts: T0 + i * 1000, value: float(i) })))));
      expect(store.stats().pendingLogRows).toBe(3_000); // drained from the journal, when there is one
      const service = new CompactionService({ store, log: memoryLog().log, now: Date.now, compaction: { schedule: EAGER } });
      services.push(service);
      service.start();
      await eventually(() => expect(store.stats().pendingLogRows).toBe(0));
      const stats = service.stats()!;
      expect(stats).toMatchObject({ passes: 1, rowsMoved: 3_000 });
      await service.stop();
      return stats.transactions;
    };
    expect(await transactions({ drainMs: 3_600_000, drainReadings: 1_000_000 })).toBe(1);
    expect(await transactions(undefined)).toBe(Math.ceil(300 / COMPACTION_DEFAULTS.limits.maxSeriesPerTx));
  });
});
