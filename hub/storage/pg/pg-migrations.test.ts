// Upgrading a PostgreSQL database in place: one left at schema version 5 by an older hub is brought to the
// newest version by open(), with hearth_commit() replaced (migration 6) and fencing still refusing stale commits.
import { expect, it } from '@jest/globals';
import pg from 'pg';
import { describePg } from '../testing/pg-cluster.js';
import { batchOf, float, newDevice } from '../testing/store-fixture.js';
import { FencedError } from './fenced-error.js';
import { PG_MIGRATIONS, PG_SCHEMA_VERSION } from './pg-migrations.js';
import { PgStore } from './pg-store.js';

const T0 = 1_700_000_000_000;

describePg('PostgreSQL migrations', (cluster) => {
  it('brings a version 5 database to the newest version, hearth_commit() replaced, fencing intact', async () => {
    const url = await cluster().createDatabase('upgrade');
    const old = new pg.Client({ connectionString: url });
    await old.connect();
    try {
      // What a hub of schema version 5 left behind.
      await old.query('CREATE TABLE hearth_schema (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)');
      for (const m of PG_MIGRATIONS.filter((x) => x.version <= 5)) await old.query(m.sql);
      await old.query('INSERT INTO hearth_schema (id, version) VALUES (1, 5)');
      const def = async () => (await old.query<{ d: string }>("SELECT pg_get_functiondef('hearth_commit'::regproc) AS d")).rows[0]!.d;
      expect(await def()).toContain('device_id = ANY (f_dev)');

      const store = new PgStore({ url });
      await store.open();
      try {
        expect(PG_SCHEMA_VERSION).toBeGreaterThanOrEqual(6);
        expect(store.schemaVersion()).toBe(PG_SCHEMA_VERSION);
        expect((await old.query<{ version: number }>('SELECT version FROM hearth_schema')).rows[0]!.version).toBe(PG_SCHEMA_VERSION);
        expect(await def()).toContain('JOIN unnest(f_dev) AS f (d) ON o.device_id = f.d');
        expect(await def()).not.toContain('device_id = ANY (f_dev)');

        await store.addDevice(newDevice('d'));
        const s = await store.seriesId('d', 't', 'float');
        const epoch = await store.claimDevice('d', 'hub-a');
        await store.commit(batchOf([{ series: s, ts: T0, value: float(1) }], { d: 1 }), new Map([['d', epoch]]));
        await store.claimDevice('d', 'hub-b');
        await expect(store.commit(batchOf([{ series: s, ts: T0 + 1, value: float(2) }], { d: 2 }), new Map([['d', epoch]]))).rejects.toBeInstanceOf(FencedError);
        expect(await store.committedSeq('d')).toBe(1);
        expect(await store.history({ deviceId: 'd', metric: 't', from: 0, to: T0 * 2, step: 'raw', limit: 10 })).toEqual([{ ts: T0, value: 1 }]);
      } finally {
        await store.close();
      }
    } finally {
      await old.end();
    }
  });
});
