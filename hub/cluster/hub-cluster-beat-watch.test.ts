// HubCluster's beat watch: a hub whose beat goes unanswered for half the stale time cuts itself off (1013 to
// its devices), but a stall of its own event loop, when no answer could be read, is not taken for a database
// that does not answer.
import { afterEach, beforeEach, expect, it, jest } from '@jest/globals';
import { eventually } from '../../test/support/eventually.js';
import { DeviceRegistry } from '../devices/device-registry.js';
import { EventBus } from '../events.js';
import { createLogger } from '../logger.js';
import { describePg } from '../storage/testing/pg-cluster.js';
import { PgStore } from '../storage/pg/pg-store.js';
import { HubCluster } from './hub-cluster.js';

const STALE_MS = 600; // cut off after 300 ms without an answer; the watch runs every 100 ms

/** Holds this thread for `ms`, as a busy hub's event loop is held (the stall under test, not a wait). */
function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

describePg('HubCluster beat watch', (cluster) => {
  let store: PgStore;
  let hub: HubCluster;
  const cutOffs: (string | undefined)[] = [];

  beforeEach(async () => {
    store = new PgStore({ url: await cluster().createDatabase('beat_watch') });
    await store.open();
    const bus = new EventBus();
    const registry = new DeviceRegistry(store, bus);
    await registry.load();
    cutOffs.length = 0;
    hub = new HubCluster({
      ...{ hubId: 'hub-a', store: store.cluster, registry, ingest: { release: () => undefined }, bus, log: createLogger('silent', { pretty: false }), now: Date.now },
      timing: { beatMs: 100, staleMs: STALE_MS, ownersMs: 1_000 },
      onCutOff: (message) => cutOffs.push(message),
    });
    await hub.start();
  });
  afterEach(async () => {
    await hub.stop();
    await store.close();
  });

  const ownSeenAt = () => hub.hubs().find((h) => h.id === 'hub-a')?.seenAt ?? 0;

  it('a stall of its own event loop longer than the limit does not cut it off; an unanswered beat does', async () => {
    stall(STALE_MS + 200);
    const stalledUntil = Date.now();
    // A beat sent after the stall was answered: the watch has run in between, more than once.
    await eventually(() => expect(ownSeenAt()).toBeGreaterThan(stalledUntil + 200));
    expect(cutOffs).toEqual([]);
    expect(hub.cutOff).toBe(false);

    // The database stops answering the beat (it hangs): cut off, with the message the devices get.
    const hung: ((err: Error) => void)[] = [];
    const beat = jest.spyOn(store.cluster, 'beat').mockImplementation(() => new Promise((_, reject) => hung.push(reject)));
    await eventually(() => expect(hub.cutOff).toBe(true));
    expect(cutOffs).toEqual([`this hub cannot reach the database (no answer for ${STALE_MS / 2} ms); connect to another hub of the installation`]);
    // The database answers again: the next beat takes the hub back.
    beat.mockRestore();
    for (const reject of hung) reject(new Error('connection terminated'));
    await eventually(() => expect(hub.cutOff).toBe(false));
    expect(cutOffs.at(-1)).toBeUndefined();
  });
});
