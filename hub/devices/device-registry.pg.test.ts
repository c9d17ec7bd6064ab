// The registry loads a PostgreSQL fleet's latest values a page of devices per query, not a query per device.
import { expect, it } from '@jest/globals';
import pg from 'pg';
import { EventBus } from '../events.js';
import { PgStore } from '../storage/pg/pg-store.js';
import { describePg } from '../storage/testing/pg-cluster.js';
import { DeviceRegistry } from './device-registry.js';

describePg('DeviceRegistry on PostgreSQL', (cluster) => {
  it('loads every device with its latest values, in pages', async () => {
    const url = await cluster().createDatabase('load');
    const store = new PgStore({ url });
    await store.open();
    const sql = new pg.Client({ connectionString: url });
    await sql.connect();
    try {
      const now = Date.now();
      // 2,500 devices (three pages); the odd ones have two series with three readings each, the even none.
      await sql.query(`INSERT INTO devices (id, name, type, token_salt, token_hash, created_at)
        SELECT 'd' || g, 'Device ' || g, 'sensor', 'salt', 'hash', 0 FROM generate_series(1, 2500) g`);
      await sql.query(`INSERT INTO series (device_id, metric, value_type)
        SELECT 'd' || g, m, 'float' FROM generate_series(1, 2500, 2) g, unnest(ARRAY['humidity', 'temperature']) m`);
      await sql.query(`INSERT INTO readings (ts, num, series)
        SELECT $1::bigint - k * 1000, s.id * 10 + k, s.id FROM series s, generate_series(0, 2) k`, [now]);
      const { rows } = await sql.query<{ device_id: string; metric: string; id: number }>("SELECT device_id, metric, id FROM series WHERE device_id IN ('d1', 'd2499')");
      let queries = 0;
      const many = store.latestMany.bind(store);
      store.latestMany = (ids) => (queries++, many(ids));
      store.latest = () => Promise.reject(new Error('latest() per device while loading'));

      const registry = new DeviceRegistry(store, new EventBus());
      await registry.load();
      expect(registry.list()).toHaveLength(2500);
      expect(queries).toBe(3);
      for (const r of rows) expect(registry.currentState(r.device_id)[r.metric]).toEqual({ value: r.id * 10, ts: now });
      expect(registry.currentState('d2')).toEqual({});
    } finally {
      await sql.end();
      await store.close();
    }
  });

  it('reconciles in pages, and keeps a device taken in after its page was read', async () => {
    const url = await cluster().createDatabase('pages');
    const store = new PgStore({ url });
    const cli = new PgStore({ url });
    await Promise.all([store.open(), cli.open()]);
    const sql = new pg.Client({ connectionString: url });
    await sql.connect();
    try {
      await sql.query(`INSERT INTO devices (id, name, type, token_salt, token_hash, created_at)
        SELECT 'd' || lpad(g::text, 4, '0'), 'Device ' || g, 'sensor', 'salt', 'hash', 0 FROM generate_series(1, 4500) g`);
      const registry = new DeviceRegistry(store, new EventBus());
      await registry.load();
      // Meanwhile, elsewhere: two devices removed, one revoked, one renamed, one added.
      await sql.query("DELETE FROM devices WHERE id IN ('d0007', 'd4499')");
      await cli.revokeDevice('d2500', 1);
      await cli.renameDevice('d3000', 'Porch');
      await sql.query("INSERT INTO devices (id, name, type, token_salt, token_hash, created_at) VALUES ('e0001', 'New', 'sensor', 's', 'h', 0)");
      const pages: (string | undefined)[] = [];
      const page = store.listDevicesPage.bind(store);
      store.listDevicesPage = async (after, limit) => {
        pages.push(after);
        if (pages.length === 2) {
          // After the first page was read: a device whose id sorts before it is added, and this hub takes it
          // in (as the change log or its first connection would).
          await sql.query("INSERT INTO devices (id, name, type, token_salt, token_hash, created_at) VALUES ('a0001', 'Early', 'sensor', 's', 'h', 0)");
          registry.applyChanges([(await store.getDevice('a0001'))!], []);
        }
        return page(after, limit);
      };
      store.listDevices = () => Promise.reject(new Error('listDevices() in one piece'));
      await registry.reconcile(Date.now());
      expect(pages).toEqual([undefined, 'd2001', 'd4001']); // 2,000 a page (d0007 is gone; revoked d2500 is still a row)
      const ids = registry.list().map((d) => d.id);
      expect(ids).toHaveLength(4500 - 3 + 2);
      for (const gone of ['d0007', 'd4499', 'd2500']) expect(ids).not.toContain(gone);
      expect(ids).toEqual(expect.arrayContaining(['a0001', 'e0001', 'd0001', 'd4500']));
      expect(registry.info('d3000')?.name).toBe('Porch');
    } finally {
      await sql.end();
      await Promise.all([store.close(), cli.close()]);
    }
  });
});
