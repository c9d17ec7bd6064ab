import { describe, it, expect } from '@jest/globals';
import { ManualClock } from './manual-clock.js';
import { Fleet, type FleetOptions } from './fleet.js';
import { planMix } from './fleet-plan.js';
import { MODELS } from './models/index.js';
import { eventually } from '../test/support/eventually.js';
import { byTime } from './testing/stored-items.js';
import type { TestHub } from './testing/test-hub.js';
import { testHubs } from './testing/test-hubs.js';

const { defer, startHub } = testHubs({ acceptAnyToken: true });

function fleet(hub: TestHub, perModel: number, extra: Partial<FleetOptions> = {}): Fleet {
  const plans = planMix(Object.keys(MODELS).map((m): [string, number] => [m, perModel]), 'fleet-');
  const f = new Fleet({ hubUrl: hub.url, devices: plans.map((p) => ({ ...p, token: 't' })), rampPerSecond: Infinity, recordSent: true, seed: 'fleet-test', ...extra });
  defer(() => f.stop({ ackTimeoutMs: 0 }));
  return f;
}

/** Every item of the frames the hub acknowledged for the device, in seq order (the database's view: hub.stored()). */
function acked(hub: TestHub, id: string) {
  return [...hub.device(id).acked.entries()].sort((a, b) => a[0] - b[0]).flatMap(([, items]) => items);
}

describe('Fleet', () => {
  it('a hub restart mid-run loses no reading: each stored exactly once [FP-8.4, FP-8.7, FP-10.5]', async () => {
    const hub = await startHub();
    const f = fleet(hub, 2, { rate: 25, backoff: { baseMs: 10, capMs: 100 } });
    await f.start();
    await f.waitConnected(12, 5000);
    await eventually(() => f.stats().acked >= 60, { what: 'some readings acknowledged' });
    // The hub keeps receiving but stops committing, then crashes: the uncommitted frames are lost to it.
    hub.ackMode = 'hold';
    await eventually(() => f.devices.every((d) => d.outbox.length >= 2), { what: 'unacknowledged frames on every device' });
    await hub.stop({ loseUncommitted: true });
    await eventually(() => f.devices.every((d) => !d.online && d.outbox.pendingSamples > 0), { what: 'readings buffered while the hub is down' });
    hub.ackMode = 'auto';
    await hub.start();
    await f.waitConnected(12, 5000);
    await eventually(() => f.devices.every((d) => d.counters.reconnects >= 1), { what: 'every device back' });
    const stats = await f.stop({ ackTimeoutMs: 5000 });
    expect(stats.pending).toBe(0);
    expect(stats.drops).toBe(0);
    expect(stats.resent).toBeGreaterThan(0);
    for (const d of f.devices) {
      const expected = d.record!.kept().flatMap((frame) => frame.items);
      expect(expected.length).toBeGreaterThan(0);
      expect(acked(hub, d.id)).toEqual(expected);
      expect(hub.stored(d.id)).toEqual(byTime(expected));
      expect([...hub.device(d.id).acked.keys()].sort((a, b) => a - b)).toEqual(d.record!.kept().map((frame) => frame.seq));
    }
    expect(hub.duplicates > 0 || f.devices.some((d) => hub.device(d.id).resends > 0)).toBe(true);
    expect(hub.closes.filter((c) => c.code === 1000).length).toBe(12);
  });

  it('runs every device on one underlying timer and takes readings on demand with sendNow()', async () => {
    const clock = new ManualClock();
    const hub = await startHub({ now: () => clock.now() });
    const f = fleet(hub, 2, { rate: 1, clock });
    await f.start();
    await f.waitConnected(undefined, 5000);
    expect(clock.pendingDelays().length).toBe(1);
    const items = f.sendNow();
    expect(items).toBeGreaterThanOrEqual(12);
    await eventually(() => f.stats().pending === 0 && f.stats().acked === 12, { what: 'one frame per device acknowledged' });
    clock.advance(1000); // one tick for each device
    await eventually(() => f.stats().acked === 24, { what: 'a tick per device acknowledged' });
    expect(f.stats().generated).toBeGreaterThanOrEqual(2 * items);
  });

  it('reports aggregate counters, ACK latency percentiles and its own CPU and memory', async () => {
    const hub = await startHub();
    const f = fleet(hub, 1, { rate: 0 });
    await f.start();
    await f.waitConnected();
    for (let i = 0; i < 5; i++) f.sendNow();
    await eventually(() => f.stats().acked === 30, { what: 'thirty frames acknowledged' });
    const s = f.stats();
    expect(s).toMatchObject({ devices: 6, online: 6, everConnected: 6, frames: 30, sent: 30, acked: 30, pending: 0, drops: 0, connects: 6, reconnects: 0 });
    expect(s.generated).toBe(f.devices.reduce((n, d) => n + d.counters.generated, 0));
    expect(s.ackLatencyMs.count).toBe(30);
    expect(s.ackLatencyMs.p50).not.toBeNull();
    expect(s.ackLatencyMs.p50!).toBeLessThanOrEqual(s.ackLatencyMs.p99!);
    expect(s.ackLatencyMs.p99!).toBeLessThanOrEqual(s.ackLatencyMs.max);
    expect(s.cpu.userMs + s.cpu.systemMs).toBeGreaterThan(0);
    expect(s.memory.rssBytes).toBeGreaterThan(s.memory.heapUsedBytes);
  });

  it('stop() waits for outstanding ACKs, then closes with 1000', async () => {
    const hub = await startHub();
    const f = fleet(hub, 1, { rate: 0 });
    await f.start();
    await f.waitConnected();
    hub.ackMode = 'hold';
    f.sendNow();
    await eventually(() => f.devices.every((d) => hub.device(d.id).frames === 1), { what: 'frames received' });
    const stopping = f.stop({ ackTimeoutMs: 10_000 });
    expect(hub.closes).toEqual([]);
    hub.resumeAcking();
    const stats = await stopping;
    expect(stats.pending).toBe(0);
    expect(hub.closes.map((c) => c.code)).toEqual([1000, 1000, 1000, 1000, 1000, 1000]);
  });

  it('waitConnected() rejects with a count when devices cannot connect', async () => {
    const hub = await startHub();
    hub.refuseWith = { code: 'HUB_ERR_UNKNOWN_DEVICE' };
    const f = fleet(hub, 1, { rate: 0 });
    await f.start();
    await expect(f.waitConnected(6, 200)).rejects.toThrow('0 of 6 devices connected after 200 ms');
    expect(f.neverConnected()).toHaveLength(6);
    expect(f.stats().hubErrors).toEqual({ '401 HUB_ERR_UNKNOWN_DEVICE': 6 });
  });
});
