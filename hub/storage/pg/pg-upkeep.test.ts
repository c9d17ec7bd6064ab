// PgUpkeep, what a hub on PostgreSQL runs instead of SQLite's compaction worker: stats counted at start and
// on a timer, retention dropping expired day partitions, rollups of closed minutes, a failure logged once.
import { Writable } from 'node:stream';
import { expect, it } from '@jest/globals';
import { eventually } from '../../../test/support/eventually.js';
import { createLogger } from '../../logger.js';
import { describePg } from '../testing/pg-cluster.js';
import { batchOf, float, newDevice } from '../testing/store-fixture.js';
import { PgStore } from './pg-store.js';
import { PgUpkeep } from './pg-upkeep.js';

const DAY = 86_400_000;
const T0 = 1_700_000_000_000;

describePg('PgUpkeep', (cluster) => {
  it('counts the stats at start, drops expired partitions, rolls minutes up, and logs a failing task once', async () => {
    const now = T0 + 40 * DAY;
    const store = new PgStore({ url: await cluster().createDatabase('upkeep'), now: () => now, retention: { rawMs: 30 * DAY } });
    await store.open();
    const lines: string[] = [];
    const log = createLogger('debug', { pretty: false, destination: new Writable({ write: (c: Buffer, _e, done) => (lines.push(c.toString()), done()) }) });
    const upkeep = new PgUpkeep({ store, log, everyMs: { rollups: 20, retention: 20, stats: 20 } });
    try {
      await store.addDevice(newDevice('u'));
      const s = await store.seriesId('u', 't', 'float');
      await store.commit(batchOf([T0, now - 120_000, now - 60_000].map((ts) => ({ series: s, ts, value: float(2) }))));
      await upkeep.start();
      expect(upkeep.stats.storedReadings).toBe(3);
      // The T0 partition is older than rawDays: dropped; the recent minutes rolled up.
      // The stats can count the dropped partition before the retention run that dropped it has returned
      // (it still deletes events and rollups, then makes the day ahead): wait for both.
      await eventually(() => expect(upkeep.stats.storedReadings).toBe(2));
      await eventually(() => expect(upkeep.info().retentionDeleted).toBeGreaterThanOrEqual(1));
      expect(upkeep.info()).toEqual({ engine: 'postgresql', retentionDeleted: expect.any(Number) });
      await eventually(async () => expect(await store.history({ deviceId: 'u', metric: 't', from: now - 180_000, to: now, step: 'minute', limit: 10 })).toHaveLength(2));
      await store.close(); // every task now fails: logged once each, not on every tick
      const failures = () => lines.filter((l) => l.includes('PostgreSQL upkeep failed')).map((l) => (JSON.parse(l) as { task: string }).task);
      // Each task fails on every 20 ms tick from here; once all three have, each was logged once.
      await eventually(() => expect(new Set(failures()).size).toBe(3));
      expect(failures().sort()).toEqual(['retention', 'rollups', 'stats']);
    } finally {
      await upkeep.stop();
      await store.close();
    }
  });
});
