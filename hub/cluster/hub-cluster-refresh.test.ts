// HubCluster's refresh of other hubs' devices: whole at start, then only what changed (one commit by another
// hub brings that one device's values, not the fleet's), and whole again after the listener reconnects.
import { Writable } from 'node:stream';
import { afterEach, beforeEach, expect, it, jest } from '@jest/globals';
import { eventually } from '../../test/support/eventually.js';
import { DeviceRegistry } from '../devices/device-registry.js';
import { EventBus } from '../events.js';
import { createLogger } from '../logger.js';
import { describePg } from '../storage/testing/pg-cluster.js';
import { batchOf, float } from '../storage/testing/store-fixture.js';
import { PgStore } from '../storage/pg/pg-store.js';
import { HubCluster } from './hub-cluster.js';

const DEVICES = 300;
const T0 = 1_700_000_000_000;

describePg('HubCluster refresh of other hubs devices', (cluster) => {
  let store: PgStore;
  let hub: HubCluster;
  let registry: DeviceRegistry;
  const lines: string[] = [];

  beforeEach(async () => {
    store = new PgStore({ url: await cluster().createDatabase('refresh') });
    await store.open();
    // DEVICES devices connected to hub-b, which beats; each has a reading.
    await store.pool.query(
      `INSERT INTO devices (id, name, type, token_salt, token_hash, created_at)
         SELECT 'd-' || i, 'D' || i, 'sensor', 's', 'h', 0 FROM generate_series(1, ${DEVICES}) AS i;
       INSERT INTO device_owner (device_id, hub_id, epoch, connected) SELECT id, 'hub-b', 1, true FROM devices;
       INSERT INTO series (device_id, metric, value_type) SELECT id, 't', 'float' FROM devices;`,
    );
    await store.ensurePartitions([Math.floor(T0 / 86_400_000)]);
    await store.pool.query(`INSERT INTO readings (ts, num, series) SELECT ${T0}, 1, id FROM series`);
    await store.cluster.beat('hub-b', Date.now(), Date.now());
    const bus = new EventBus();
    registry = new DeviceRegistry(store, bus);
    await registry.load();
    lines.length = 0;
    const log = createLogger('debug', { pretty: false, destination: new Writable({ write: (c: Buffer, _e, done) => (lines.push(c.toString()), done()) }) });
    hub = new HubCluster({
      ...{ hubId: 'hub-a', store: store.cluster, registry, ingest: { release: () => undefined }, bus, log, now: Date.now },
      timing: { beatMs: 1_000, staleMs: 60_000, ownersMs: 20 },
    });
  });
  afterEach(async () => {
    await hub.stop();
    await store.close();
  });

  /** hub-b commits `value` for `id` as its ingest does (fenced under epoch 1). */
  async function commitOnB(id: string, value: number, seq: number): Promise<void> {
    const series = await store.seriesId(id, 't', 'float');
    await store.commit(batchOf([{ series, ts: T0 + seq, value: float(value) }], { [id]: seq }), new Map([[id, 1]]));
  }

  it('reads every device at start, then only the device another hub committed', async () => {
    const owners = jest.spyOn(store.cluster, 'owners');
    const applied = jest.spyOn(registry, 'applyCommitted');
    await hub.start();
    expect(owners).toHaveBeenNthCalledWith(1);
    expect(new Set(applied.mock.calls.map(([id]) => id)).size).toBe(DEVICES);
    expect(hub.remoteHolder('d-3')).toBe('hub-b');
    // The refreshes after it ask for changes since a horizon, and nothing changed.
    await eventually(() => expect(owners.mock.calls.length).toBeGreaterThan(2));
    expect(owners.mock.calls.slice(1).every(([since]) => typeof since === 'string')).toBe(true);
    applied.mockClear();

    await commitOnB('d-3', 42, 2);
    await eventually(() => expect(registry.currentState('d-3')).toEqual({ t: { value: 42, ts: T0 + 2 } }));
    expect(new Set(applied.mock.calls.map(([id]) => id))).toEqual(new Set(['d-3']));
  });

  it('reads every device again after the listener connected again', async () => {
    await hub.start();
    const owners = jest.spyOn(store.cluster, 'owners');
    await eventually(() => expect(owners).toHaveBeenCalledWith(expect.any(String)));
    const killed = await store.pool.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND datname = current_database()");
    expect(killed.rowCount).toBe(1);
    await eventually(() => expect(lines.some((l) => l.includes('PostgreSQL listener connected again: re-reading device owners'))).toBe(true), 10_000);
    await eventually(() => expect(owners.mock.calls.some((args) => args.length === 0 || args[0] === undefined)).toBe(true));
  }, 20_000);

  it('is the caretaker while no living hub has a lower id', async () => {
    await hub.start();
    expect(hub.caretaker()).toBe(true); // hub-a below the beating hub-b
    const c = new HubCluster({
      ...{ hubId: 'hub-c', store: store.cluster, registry, ingest: { release: () => undefined }, bus: new EventBus(), log: createLogger('silent', { pretty: false }), now: Date.now },
      timing: { beatMs: 50, staleMs: 60_000, ownersMs: 1_000 },
    });
    try {
      await c.start();
      expect(c.caretaker()).toBe(false);
      await hub.stop(); // hub-a marks itself stopped; hub-b still beats
      await store.cluster.stopped('hub-b');
      await eventually(() => expect(c.caretaker()).toBe(true));
    } finally {
      await c.stop();
    }
  });
});
