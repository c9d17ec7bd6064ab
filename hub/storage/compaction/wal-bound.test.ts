// The WAL bound under full load: the hub's main thread commits back to back while compaction runs in its
// worker thread, as in a hub at full load. A checkpoint that the hub's commits kept appending to never let
// SQLite restart the WAL; it grew by a whole pass (tens of MiB at 8,000 series) past db.maxWalBytes, and
// the TRUNCATE that then forced it back held the commits off until they failed with SQLITE_BUSY.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLogger } from '../../logger.js';
import { HubStore } from '../hub-store.js';
import { bundleForWorker } from '../testing/bundle-for-worker.js';
import { StoreFixture, batchOf, float, newDevice } from '../testing/store-fixture.js';
import { CompactionService } from './service.js';

const fx = new StoreFixture();
let workerUrl: URL;
beforeAll(async () => {
  workerUrl = await bundleForWorker(new URL('./worker.ts', import.meta.url), fx.dir());
});
afterAll(() => fx.cleanup());

const MAX_WAL_BYTES = 16 * 1024 * 1024;
const DEVICES = 1000;
const METRICS = 8;
const PER_COMMIT = 4000;
const T0 = 1_700_000_000_000;
/** Readings/s the loop offers. */
const RATE = 400_000;

function walBytes(path: string): number {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}

describe('the WAL under full load with compaction in its worker', () => {
  it('stays within db.maxWalBytes and never fails a commit on the lock', async () => {
    const path = join(fx.dir(), 'hub.db');
    const store = fx.track(new HubStore({ path, maxWalBytes: MAX_WAL_BYTES }));
    store.open();
    const series: number[] = [];
    for (let d = 0; d < DEVICES; d++) {
      store.addDevice(newDevice(`d${d}`));
      for (let m = 0; m < METRICS; m++) series.push(store.seriesId(`d${d}`, `m${m}`, 'float'));
    }
    const log = createLogger('silent', { pretty: false });
    // Passes as the hub runs them (default limits: up to 100,000 rows, transactions of 125 series), at once.
    const service = new CompactionService({ store, log, now: Date.now, compaction: { mode: 'worker', workerUrl, schedule: { minRows: 50_000, maxAgeMs: 0, checkEveryMs: 5, errorRetryMs: 5 } } });
    service.start();
    let maxWal = 0;
    const failures: string[] = [];
    let ts = T0;
    const started = performance.now();
    try {
      // Until compaction has moved 400,000 rows (four full passes over every series), or 2,000 commits.
      for (let i = 0; i < 2000 && (service.stats()?.rowsMoved ?? 0) < 400_000; i++) {
        const readings = Array.from({ length: PER_COMMIT }, (_, k) => ({ series: series[(i * PER_COMMIT + k) % series.length]!, ts: ts++, value: float(k) }));
        try {
          store.commit(batchOf(readings));
        } catch (err) {
          failures.push((err as Error).message);
        }
        maxWal = Math.max(maxWal, walBytes(path));
        // Paced at 400,000 readings/s, above what a hub ingests at full load (~300,000/s here): a faster
        // loop also grows the WAL while compaction's read phase holds its snapshot, which no hub does.
        const due = started + ((i + 1) * PER_COMMIT * 1000) / RATE;
        await (due > performance.now() ? sleep(due - performance.now()) : nextTurn());
      }
      expect(service.stats()?.rowsMoved ?? 0).toBeGreaterThanOrEqual(400_000);
    } finally {
      await service.stop();
    }
    expect(failures).toEqual([]);
    expect(maxWal).toBeLessThanOrEqual(MAX_WAL_BYTES);
  }, 120_000);
});
