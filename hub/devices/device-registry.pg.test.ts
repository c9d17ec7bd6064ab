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
});
