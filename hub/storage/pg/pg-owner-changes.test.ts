// PgCluster.owners(since) and latestChanged(since): a hub reads only the owners and latest values that
// changed since its previous read (migration 8), and misses none, even of a transaction that began before
// others but committed after them.
import { afterEach, beforeEach, expect, it } from '@jest/globals';
import pg from 'pg';
import { describePg, migrateTo } from '../testing/pg-cluster.js';
import { batchOf, float } from '../testing/store-fixture.js';
import { commitBatch } from './pg-commit.js';
import { PgStore } from './pg-store.js';

const DEVICES = 1_000;
const T0 = 1_700_000_000_000;

describePg('PgCluster changes since a horizon', (cluster) => {
  let store: PgStore;
  let url: string;

  beforeEach(async () => {
    url = await cluster().createDatabase('changes');
    store = new PgStore({ url });
    await store.open();
    // DEVICES devices held connected by hub-b, each with one series and one reading.
    await store.pool.query(
      `INSERT INTO devices (id, name, type, token_salt, token_hash, created_at)
         SELECT 'd-' || i, 'D' || i, 'sensor', 's', 'h', 0 FROM generate_series(1, ${DEVICES}) AS i;
       INSERT INTO device_owner (device_id, hub_id, epoch, connected) SELECT id, 'hub-b', 1, true FROM devices;
       INSERT INTO series (device_id, metric, value_type) SELECT id, 't', 'float' FROM devices;
       INSERT INTO device_state (device_id, seq) SELECT id, 1 FROM devices;`,
    );
    await store.ensurePartitions([Math.floor(T0 / 86_400_000)]);
    await store.pool.query(`INSERT INTO readings (ts, num, series) SELECT ${T0}, 1, id FROM series`);
  });
  afterEach(() => store.close());

  /** hub-b commits `value` for device `id` under epoch `epoch` (fenced, as a hub's ingest does). */
  async function commitAs(id: string, value: number, seq: number, epoch = 1, via: pg.Pool | pg.ClientBase = store.pool): Promise<void> {
    const series = await store.seriesId(id, 't', 'float');
    await commitBatch(via, batchOf([{ series, ts: T0 + seq, value: float(value) }], { [id]: seq }), new Map([[id, epoch]]));
  }

  it('answers a claim, a disconnect and a commit since the horizon, and nothing of an unchanged fleet', async () => {
    const whole = await store.cluster.owners();
    expect(whole.rows).toHaveLength(DEVICES);
    const latest = await store.cluster.latestOf(whole.rows.map((r) => r.deviceId));
    expect(latest.latest.size).toBe(DEVICES);
    // Nothing changed since: empty deltas.
    expect((await store.cluster.owners(whole.horizon)).rows).toEqual([]);
    expect([...(await store.cluster.latestChanged(latest.horizon, 'hub-a')).latest]).toEqual([]);

    await store.claimDevice('d-1', 'hub-c');
    await store.cluster.disconnected('hub-b', new Map([['d-2', 1]]));
    await commitAs('d-3', 42, 2);
    await store.claimDevice('d-4', 'hub-a');
    await commitAs('d-4', 7, 2, 2); // committed by the reader itself: its ingest has the value

    const owners = await store.cluster.owners(whole.horizon);
    expect(owners.rows.sort((x, y) => x.deviceId.localeCompare(y.deviceId))).toEqual([
      { deviceId: 'd-1', hubId: 'hub-c', epoch: 2, connected: true },
      { deviceId: 'd-2', hubId: 'hub-b', epoch: 1, connected: false },
      { deviceId: 'd-4', hubId: 'hub-a', epoch: 2, connected: true },
    ]);
    const changed = await store.cluster.latestChanged(latest.horizon, 'hub-a');
    expect([...changed.latest]).toEqual([['d-3', [{ metric: 't', ts: T0 + 2, value: float(42) }]]]);
    // Another hub is told of d-4's commit too.
    expect([...(await store.cluster.latestChanged(latest.horizon, 'hub-c')).latest.keys()].sort()).toEqual(['d-3', 'd-4']);

    // From the new horizons on, the fleet is unchanged again.
    expect((await store.cluster.owners(owners.horizon)).rows).toEqual([]);
    expect([...(await store.cluster.latestChanged(changed.horizon, 'hub-a')).latest]).toEqual([]);

    // The owner rows changed since are found through their index, not a scan of every holder.
    await store.pool.query('ANALYZE device_owner');
    const plan = await store.pool.query<{ 'QUERY PLAN': string }>('EXPLAIN SELECT device_id FROM device_owner WHERE changed >= $1::xid8', [owners.horizon]);
    expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toContain('device_owner_changed');
  });

  it('stamps the rows of a database upgraded from version 6 below the first horizon, and every change after', async () => {
    const old = await cluster().createDatabase('upgrade');
    const client = new pg.Client({ connectionString: old });
    await client.connect();
    try {
      await migrateTo(client, 6);
      await client.query(`INSERT INTO devices (id, name, type, token_salt, token_hash, created_at) VALUES ('u-1', 'U', 'sensor', 's', 'h', 0);
        INSERT INTO device_owner (device_id, hub_id, epoch, connected) VALUES ('u-1', 'hub-b', 1, true);
        INSERT INTO device_state (device_id, seq) VALUES ('u-1', 1)`);
    } finally {
      await client.end();
    }
    const upgraded = new PgStore({ url: old });
    await upgraded.open();
    try {
      const whole = await upgraded.cluster.owners();
      expect(whole.rows).toEqual([{ deviceId: 'u-1', hubId: 'hub-b', epoch: 1, connected: true }]);
      expect((await upgraded.cluster.owners(whole.horizon)).rows).toEqual([]);
      const latest = await upgraded.cluster.latestOf([]);
      expect([...(await upgraded.cluster.latestChanged(latest.horizon, 'hub-a')).latest]).toEqual([]);
      await upgraded.ensurePartitions([Math.floor(T0 / 86_400_000)]);
      const series = await upgraded.seriesId('u-1', 't', 'float');
      await upgraded.commit(batchOf([{ series, ts: T0, value: float(3) }], { 'u-1': 2 }), new Map([['u-1', 1]]));
      await upgraded.claimDevice('u-1', 'hub-c');
      expect((await upgraded.cluster.owners(whole.horizon)).rows).toEqual([{ deviceId: 'u-1', hubId: 'hub-c', epoch: 2, connected: true }]);
      expect([...(await upgraded.cluster.latestChanged(latest.horizon, 'hub-a')).latest]).toEqual([['u-1', [{ metric: 't', ts: T0, value: float(3) }]]]);
    } finally {
      await upgraded.close();
    }
  });

  it('still answers a change whose transaction was open across a read and committed after later ones', async () => {
    const start = await store.cluster.owners();
    const latestStart = await store.cluster.latestOf([]);
    const open = new pg.Client({ connectionString: url });
    await open.connect();
    try {
      // Begun first (its transaction id is the lower), committed last.
      await open.query('BEGIN');
      await open.query("UPDATE device_owner SET connected = false WHERE device_id = 'd-5'");
      await commitAs('d-7', 70, 2, 1, open);
      await store.claimDevice('d-6', 'hub-c');
      await commitAs('d-8', 80, 2);

      const during = await store.cluster.owners(start.horizon);
      expect(during.rows.map((r) => r.deviceId).sort()).toEqual(['d-6']);
      const latestDuring = await store.cluster.latestChanged(latestStart.horizon, 'hub-a');
      expect([...latestDuring.latest.keys()]).toEqual(['d-8']);
      await open.query('COMMIT');

      // Stamped below a row read already: a reader asking for stamps above the highest it saw would miss it.
      const [stamps] = (await store.pool.query<{ open: boolean }>(
        "SELECT (SELECT changed FROM device_owner WHERE device_id = 'd-5') < (SELECT changed FROM device_owner WHERE device_id = 'd-6') AS open",
      )).rows;
      expect(stamps).toEqual({ open: true });
      const after = await store.cluster.owners(during.horizon);
      expect(after.rows.find((r) => r.deviceId === 'd-5')).toEqual({ deviceId: 'd-5', hubId: 'hub-b', epoch: 1, connected: false });
      const latestAfter = await store.cluster.latestChanged(latestDuring.horizon, 'hub-a');
      expect(latestAfter.latest.get('d-7')).toEqual([{ metric: 't', ts: T0 + 2, value: float(70) }]);
    } finally {
      await open.end();
    }
  });
});
