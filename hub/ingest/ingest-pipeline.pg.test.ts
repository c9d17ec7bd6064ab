// IngestPipeline on the PostgreSQL store, whose commits answer with Promises: ACKs only once the commit
// resolved, frames arriving meanwhile committed next, and fencing (issue #16 section 2): a device another hub
// claimed is taken out of the batch, its connection lost, the rest of the batch stored.
import { afterEach, expect, it } from '@jest/globals';
import type { Capability, DataFrame, Reading } from '../../protocol/types.js';
import { hello } from '../../test/support/fixtures.js';
import { DeviceRegistry } from '../devices/device-registry.js';
import { EventBus } from '../events.js';
import { resolveCapabilities } from '../gateway/validate.js';
import { createLogger } from '../logger.js';
import { PgStore } from '../storage/pg/pg-store.js';
import { describePg } from '../storage/testing/pg-cluster.js';
import { IngestPipeline, type AckChannel } from './ingest-pipeline.js';

class Channel implements AckChannel {
  readonly acks: number[] = [];
  readonly lostWith: string[] = [];
  constructor(readonly deviceId: string) {}
  ack(seq: number): void {
    this.acks.push(seq);
  }
  lost(message: string): void {
    this.lostWith.push(message);
  }
}

const T0 = 1_700_000_000_000;
const temperature = (value: number): Reading => ({ metric: 1, value: { type: 'float', value } });
const telemetry = (seq: number, ...readings: Reading[]): DataFrame => ({ type: 'telemetry', seq, ts: T0 + seq, readings });

const stores: PgStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

describePg('IngestPipeline on PostgreSQL', (cluster) => {
  async function setUp(devices = ['th1', 'th2']) {
    const store = new PgStore({ url: await cluster().createDatabase('ingest') });
    stores.push(store);
    await store.open();
    const bus = new EventBus();
    const registry = new DeviceRegistry(store, bus);
    await registry.load();
    for (const id of devices) {
      await registry.provision(id, id, 'thermostat', T0);
      await registry.greet(id, { type: 'hello', ...hello() }, T0);
    }
    const ingest = new IngestPipeline(store, registry, bus, {
      ...{ commitIntervalMs: 0, commitMaxReadings: 1000, maxPendingReadings: 100_000, fenced: true },
      ...{ now: () => T0 + 10_000, log: createLogger('silent'), onPressure: () => undefined },
    });
    await ingest.start();
    const claim = async (id: string, hub = 'this-hub') => ingest.own(id, await store.claimDevice(id, hub), await store.committedSeq(id));
    const caps: Capability[] = [];
    const accept = async (channel: Channel, frame: DataFrame) => {
      expect(resolveCapabilities(frame, (id) => registry.capability(channel.deviceId, id), caps)).toBeNull();
      await ingest.accept(channel, frame, caps); // a Promise only while a new series is created
    };
    const stored = async (id: string) =>
      (await store.history({ deviceId: id, metric: 'temperature', from: 0, to: Number.MAX_SAFE_INTEGER, step: 'raw', limit: 1000 })).map((p) => p.value);
    return { store, ingest, claim, accept, stored };
  }

  it('acknowledges only after the commit resolved, and commits what arrived meanwhile next', async () => {
    const s = await setUp();
    await s.claim('th1');
    const ch = new Channel('th1');
    await s.accept(ch, telemetry(1, temperature(1)));
    const flushing = s.ingest.flush();
    expect(flushing).toBeInstanceOf(Promise);
    expect(ch.acks).toEqual([]); // the transaction has not answered yet
    await s.accept(ch, telemetry(2, temperature(2))); // taken by the next batch, not the one in flight
    expect(s.ingest.flush()).toBe(flushing); // one flush at a time: this joins it
    expect(await flushing).toBe(true);
    expect(ch.acks).toEqual([1, 2]);
    expect(await s.stored('th1')).toEqual([1, 2]);
    expect(await s.store.committedSeq('th1')).toBe(2);
    // A resend is acknowledged and not stored again [FP-8.7].
    await s.accept(ch, telemetry(2, temperature(2)));
    expect(ch.acks).toEqual([1, 2, 2]);
    expect(await s.ingest.flush()).toBe(true);
    expect(await s.stored('th1')).toEqual([1, 2]);
  });

  it('takes a device another hub claimed out of the batch: nothing of it stored, its connection lost, the rest committed', async () => {
    const s = await setUp();
    await s.claim('th1');
    await s.claim('th2');
    const [a, b] = [new Channel('th1'), new Channel('th2')];
    await s.accept(a, telemetry(1, temperature(10)));
    await s.accept(b, telemetry(1, temperature(20)));
    expect(await s.ingest.flush()).toBe(true);
    await s.store.claimDevice('th1', 'other-hub'); // th1 moved to another hub
    await s.accept(a, telemetry(2, temperature(11)));
    await s.accept(b, telemetry(2, temperature(21)));
    expect(await s.ingest.flush()).toBe(true);
    expect(a.acks).toEqual([1]);
    expect(a.lostWith).toHaveLength(1);
    expect(b.acks).toEqual([1, 2]);
    expect(await s.stored('th1')).toEqual([10]);
    expect(await s.stored('th2')).toEqual([20, 21]);
    expect(await s.store.committedSeq('th1')).toBe(1);
    // Later frames of the lost device are not taken at all, even on a connection that had none in the batch.
    const late = new Channel('th1');
    await s.accept(late, telemetry(3, temperature(12)));
    expect(late.lostWith).toHaveLength(1);
    expect(s.ingest.stats.pendingReadings).toBe(0);
    // Claimed back (the device reconnected here): it goes on from the sequence the database holds.
    await s.claim('th1');
    expect(s.ingest.committedSeq('th1')).toBe(1);
    await s.accept(late, telemetry(2, temperature(11)));
    expect(await s.ingest.flush()).toBe(true);
    expect(await s.stored('th1')).toEqual([10, 11]);
  });

  it('fences frames queued under an older claim of this hub: the device resends them and they are stored once', async () => {
    const s = await setUp(['th1']);
    await s.claim('th1');
    const old = new Channel('th1');
    await s.accept(old, telemetry(1, temperature(1)));
    await s.claim('th1'); // the device reconnected (a new HELLO) before the commit
    const fresh = new Channel('th1');
    await s.accept(fresh, telemetry(1, temperature(1))); // resent on the new connection
    expect(await s.ingest.flush()).toBe(true);
    expect(fresh.acks).toEqual([1]);
    expect(await s.stored('th1')).toEqual([1]);
  });
});
