// On PostgreSQL the watch reads the device change log (migration 7): what the CLI or another hub changed,
// and only that, each tick; a transaction that commits after a later-started one is not missed.
import { expect, it } from '@jest/globals';
import pg from 'pg';
import { EventBus } from '../events.js';
import { createLogger } from '../logger.js';
import { PgStore } from '../storage/pg/pg-store.js';
import { describePg } from '../storage/testing/pg-cluster.js';
import { newDevice } from '../storage/testing/store-fixture.js';
import { CliChangeWatch } from './cli-change-watch.js';
import { DeviceRegistry } from './device-registry.js';

const T0 = 1_700_000_000_000;

describePg('CliChangeWatch on PostgreSQL', (cluster) => {
  /** The hub's store, registry and watch (counting full re-reads and the rows each look answered), and the CLI's store. */
  async function setup(name: string, devices: number) {
    const url = await cluster().createDatabase(name);
    const hub = new PgStore({ url });
    const cli = new PgStore({ url });
    await Promise.all([hub.open(), cli.open()]);
    for (let i = 0; i < devices; i++) await hub.addDevice(newDevice(`d${i}`, T0));
    const registry = new DeviceRegistry(hub, new EventBus());
    await registry.load();
    const counts = { reconciles: 0, looks: [] as number[] };
    const reconcile = registry.reconcile.bind(registry);
    registry.reconcile = (now: number) => (counts.reconciles++, reconcile(now));
    const since = hub.deviceChangesSince.bind(hub);
    hub.deviceChangesSince = async (h) => {
      const delta = await since(h);
      if (h !== undefined) counts.looks.push(delta.changed.length + delta.removed.length);
      return delta;
    };
    const watch = new CliChangeWatch({ store: undefined, changes: hub, registry, log: createLogger('silent'), now: () => T0 });
    await watch.check(); // the first look: the horizon, and every device once
    const close = () => Promise.all([watch.stop(), hub.close(), cli.close()]);
    return { url, hub, cli, registry, watch, counts, close };
  }

  it('takes in devices added, renamed, moved, revoked, removed and HELLOs stored elsewhere, reading only those', async () => {
    const { cli, registry, watch, counts, close } = await setup('watch', 1000);
    try {
      expect(counts.reconciles).toBe(1);
      await watch.check();
      expect(counts.looks).toEqual([0]); // nothing changed: an empty answer, not 1,000 devices

      await cli.addDevice(newDevice('new', T0 + 1));
      await watch.check();
      expect(registry.info('new')).toBeDefined();

      await cli.renameDevice('d1', 'Hall sensor');
      await cli.setDeviceRoom('d2', 'Kitchen');
      await watch.check();
      expect(registry.info('d1')?.name).toBe('Hall sensor');
      expect(registry.info('d2')?.room).toBe('Kitchen');

      // Another hub stored a HELLO: this hub shows the device's firmware too.
      await cli.updateDeviceHello('d3', { model: 'TH-1', firmware: '2.0.0', capabilities: [] });
      await watch.check();
      expect(registry.info('d3')?.firmware).toBe('2.0.0');

      await cli.revokeDevice('d4', T0 + 2);
      await cli.removeDevice('d5');
      await watch.check();
      expect(registry.info('d4')).toBeUndefined();
      expect(registry.info('d5')).toBeUndefined();
      expect(registry.info('d6')).toBeDefined();

      // Each look answered the few rows that changed (a row may come twice), never the fleet; no full re-read.
      expect(counts.looks.length).toBe(5);
      for (const rows of counts.looks) expect(rows).toBeLessThanOrEqual(4);
      expect(counts.reconciles).toBe(1);
    } finally {
      await close();
    }
  });

  it('does not miss a change whose transaction commits after a later one was seen', async () => {
    const { url, cli, registry, watch, close } = await setup('horizon', 2);
    const slow = new pg.Client({ connectionString: url });
    await slow.connect();
    try {
      // The slow transaction writes first (the older transaction id) and commits last.
      await slow.query('BEGIN');
      await slow.query("UPDATE devices SET name = 'Slow' WHERE id = 'd0'");
      await cli.renameDevice('d1', 'Fast');
      await watch.check();
      expect(registry.info('d1')?.name).toBe('Fast');
      expect(registry.info('d0')?.name).not.toBe('Slow');
      await slow.query('COMMIT');
      await watch.check();
      expect(registry.info('d0')?.name).toBe('Slow');
    } finally {
      await slow.end();
      await close();
    }
  });
});
