import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { EventBus } from '../events.js';
import { createLogger } from '../logger.js';
import { HubStore } from '../storage/hub-store.js';
import { StoreFixture, batchOf, float, newDevice } from '../storage/testing/store-fixture.js';
import { CliChangeWatch } from './cli-change-watch.js';
import { DeviceRegistry } from './device-registry.js';

const fx = new StoreFixture();
afterAll(() => fx.cleanup());
const T0 = 1_700_000_000_000;

/** The hub's store and registry, a watch counting its reconciles, and a second connection as the CLI's. */
function setup() {
  const path = join(fx.dir(), 'hub.db');
  const hub = fx.track(new HubStore({ path }));
  hub.open();
  hub.addDevice(newDevice('a', T0));
  const registry = new DeviceRegistry(hub, new EventBus());
  registry.load();
  let reconciles = 0;
  const reconcile = registry.reconcile.bind(registry);
  registry.reconcile = (now: number) => {
    reconciles++;
    reconcile(now);
  };
  const watch = new CliChangeWatch({ store: hub, registry, log: createLogger('silent'), now: () => T0 });
  watch.start();
  const cli = fx.track(new HubStore({ path }));
  cli.open();
  return { hub, registry, watch, cli, reconciles: () => reconciles };
}

describe('CliChangeWatch', () => {
  it('reconciles after the CLI changes devices, and not after other connections commit other data', () => {
    const { registry, watch, cli, reconciles } = setup();

    // Another connection commits readings (as the compaction worker commits chunks): data_version moves,
    // the devices did not change, the registry is not re-read.
    const series = cli.seriesId('a', 'temperature', 'float');
    cli.commit(batchOf([{ series, ts: T0, value: float(21) }], { a: 1 }, { a: T0 }));
    watch.check();
    expect(reconciles()).toBe(0);

    // A HELLO's write (firmware, capabilities) is the hub's own and does not count either.
    cli.updateDeviceHello('a', { model: 'TH-1', firmware: '1.0.1', capabilities: [] });
    watch.check();
    expect(reconciles()).toBe(0);

    // `hearth device add`, rename and revoke from the CLI's connection: each is seen on the next tick.
    cli.addDevice(newDevice('b', T0 + 1));
    watch.check();
    expect(reconciles()).toBe(1);
    expect(registry.info('b')).toBeDefined();

    cli.renameDevice('b', 'Hall sensor');
    watch.check();
    expect(reconciles()).toBe(2);
    expect(registry.info('b')?.name).toBe('Hall sensor');

    expect(cli.revokeDevice('b', T0 + 2)).toBe(true);
    watch.check();
    expect(reconciles()).toBe(3);
    expect(registry.info('b')).toBeUndefined();

    // Nothing new: nothing re-read.
    watch.check();
    expect(reconciles()).toBe(3);
    watch.stop();
  });
});
