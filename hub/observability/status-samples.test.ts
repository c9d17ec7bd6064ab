import { describe, expect, it } from '@jest/globals';
import { StatusSamples } from './status-samples.js';

describe('StatusSamples', () => {
  it('samples readings/s, devices online, ACK p99, MQTT clients and storage, bounded to the newest', () => {
    let t = 0;
    const src = { committed: 0, online: 2, clients: 1, bytes: 4096 };
    const samples = new StatusSamples(
      { online: () => src.online, ingest: () => ({ readingsCommitted: src.committed }), mqtt: () => ({ clients: src.clients }), storageBytes: () => src.bytes },
      { now: () => t, everyMs: 10_000, max: 3 },
    );
    expect(samples.sample()).toEqual({ ts: 0, readingsPerSecond: 0, devicesOnline: 2, ackP99Ms: null, mqttClients: 1, storageBytes: 4096 });
    t = 10_000;
    src.committed = 5000;
    for (let i = 1; i <= 100; i++) samples.observeAck(i / 1000);
    expect(samples.sample()).toMatchObject({ ts: 10_000, readingsPerSecond: 500, ackP99Ms: 99 });
    t = 20_000;
    src.online = 3;
    expect(samples.sample()).toMatchObject({ readingsPerSecond: 0, devicesOnline: 3, ackP99Ms: null });
    t = 30_000;
    samples.sample();
    expect(samples.samples().map((s) => s.ts)).toEqual([10_000, 20_000, 30_000]);
    expect(samples.samples(15_000).map((s) => s.ts)).toEqual([20_000, 30_000]);
  });
});
