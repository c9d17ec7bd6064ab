// Upgrading a PostgreSQL database in place: one left at schema version 5 by an older hub is brought to the
// newest version by open(), with hearth_commit() replaced (migration 6) and fencing still refusing stale commits.
import { expect, it } from '@jest/globals';
import pg from 'pg';
import { describePg, migrateTo } from '../testing/pg-cluster.js';
import { batchOf, float, int, newDevice } from '../testing/store-fixture.js';
import { FencedError } from './fenced-error.js';
import { PG_SCHEMA_VERSION } from './pg-migrations.js';
import { PgStore } from './pg-store.js';

const T0 = 1_700_000_000_000;

describePg('PostgreSQL migrations', (cluster) => {
  it('brings a version 5 database to the newest version, hearth_commit() replaced, fencing and removed devices as before', async () => {
    const url = await cluster().createDatabase('upgrade');
    const old = new pg.Client({ connectionString: url });
    await old.connect();
    try {
      // What a hub of schema version 5 left behind.
      await migrateTo(old, 5);
      const def = async () => (await old.query<{ d: string }>("SELECT pg_get_functiondef('hearth_commit'::regproc) AS d")).rows[0]!.d;
      expect(await def()).toContain('device_id = ANY (f_dev)');

      const store = new PgStore({ url });
      await store.open();
      try {
        expect(PG_SCHEMA_VERSION).toBeGreaterThanOrEqual(6);
        expect(store.schemaVersion()).toBe(PG_SCHEMA_VERSION);
        expect((await old.query<{ version: number }>('SELECT version FROM hearth_schema')).rows[0]!.version).toBe(PG_SCHEMA_VERSION);
        expect(await def()).toContain('JOIN unnest(f_dev) AS f (d) ON o.device_id = f.d');
        expect(await def()).toContain('per reading only when one is gone');
        expect(await def()).not.toContain('device_id = ANY (f_dev)');

        await store.addDevice(newDevice('d'));
        const s = await store.seriesId('d', 't', 'float');
        const epoch = await store.claimDevice('d', 'hub-a');
        await store.commit(batchOf([{ series: s, ts: T0, value: float(1) }], { d: 1 }), new Map([['d', epoch]]));
        await store.claimDevice('d', 'hub-b');
        await expect(store.commit(batchOf([{ series: s, ts: T0 + 1, value: float(2) }], { d: 2 }), new Map([['d', epoch]]))).rejects.toBeInstanceOf(FencedError);
        expect(await store.committedSeq('d')).toBe(1);
        expect(await store.history({ deviceId: 'd', metric: 't', from: 0, to: T0 * 2, step: 'raw', limit: 10 })).toEqual([{ ts: T0, value: 1 }]);

        // A batch holding a device removed while it waited. A hub's (fenced): the removal took the owner row,
        // so the commit is fenced for that device, nothing stored. Without a fence: the others' readings are
        // stored, none of the removed device's (its series are gone).
        await store.addDevice(newDevice('stays'));
        await store.addDevice(newDevice('leaves'));
        const [ss, sl] = [await store.seriesId('stays', 'm', 'int'), await store.seriesId('leaves', 'm', 'int')];
        const fence = new Map([['stays', await store.claimDevice('stays', 'hub-a')], ['leaves', await store.claimDevice('leaves', 'hub-a')]]);
        await store.removeDevice('leaves');
        const batch = batchOf([{ series: ss, ts: T0, value: int(5) }, { series: sl, ts: T0, value: int(6) }], { stays: 1, leaves: 1 });
        await expect(store.commit(batch, fence)).rejects.toMatchObject({ devices: ['leaves'] });
        const counts = async () => (await old.query<{ series: number; n: number }>('SELECT series, count(*)::int AS n FROM readings WHERE series = ANY ($1) GROUP BY series', [[ss, sl]])).rows;
        expect(await counts()).toEqual([]);
        await store.commit(batch);
        expect(await counts()).toEqual([{ series: ss, n: 1 }]);
        expect(await store.committedSeqs()).toEqual(new Map([['d', 1], ['stays', 1]]));
      } finally {
        await store.close();
      }
    } finally {
      await old.end();
    }
  });
});
