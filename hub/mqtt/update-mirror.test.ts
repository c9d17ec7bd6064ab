// UpdateMirror against a store that is slow and failing (PostgreSQL under 100,000 devices): publishAll looks up a
// bounded number of devices at once and never rejects, and a failing lookup for a bus event is logged instead
// of becoming an unhandled rejection (which stops the hub).
import { afterEach, describe, expect, it } from '@jest/globals';
import { EventBus, type DeviceInfo } from '../events.js';
import type { DeviceFacade } from '../facade.js';
import type { MqttLogger } from './logger.js';
import { Topics, type TopicMessage } from './topics.js';
import { PUBLISH_ALL_CONCURRENCY, UpdateMirror } from './update-mirror.js';

const DEVICES = 50;

function deviceInfo(i: number): DeviceInfo {
  return { id: `d${i}`, type: 'plug', model: 'plug-v1', firmware: '1.0.0', updatable: true } as unknown as DeviceInfo;
}

/** A firmware store whose lookups wait for the next macrotask and fail for the devices in `failing`. */
function fixture(failing: Set<string>, cares?: (id: string) => boolean) {
  const bus = new EventBus();
  const devices = Array.from({ length: DEVICES }, (_, i) => deviceInfo(i));
  const stats = { inFlight: 0, maxInFlight: 0, latestReads: [] as string[] };
  const firmware = {
    updates: async (_limit: number, id: string) => {
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      await new Promise((r) => setImmediate(r));
      stats.inFlight--;
      if (failing.has(id)) throw new Error(`timeout exceeded when trying to connect (${id})`);
      return [];
    },
    latestVersion: async (model: string) => {
      stats.latestReads.push(model);
      await new Promise((r) => setImmediate(r));
      return '1.1.0';
    },
  };
  const facade = { bus, firmware, devices: () => devices, device: (id: string) => devices.find((d) => d.id === id) } as unknown as DeviceFacade;
  const published: TopicMessage[] = [];
  const warnings: { obj: object; msg: string }[] = [];
  const noop = () => {};
  const logger: MqttLogger = { debug: noop, info: noop, error: noop, warn: (obj, msg) => warnings.push({ obj, msg }) };
  const mirror = new UpdateMirror({ facade, topics: new Topics(), publish: async (m) => void published.push(m), logger, ...(cares ? { cares } : {}) });
  return { bus, mirror, stats, published, warnings };
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
  unhandled.length = 0;
});

describe('UpdateMirror on a slow, failing store', () => {
  it(`publishAll looks up at most ${PUBLISH_ALL_CONCURRENCY} devices at once, publishes the rest and counts the failures in one warning`, async () => {
    const failing = new Set(['d3', 'd17', 'd40']);
    const fx = fixture(failing);
    await expect(fx.mirror.publishAll()).resolves.toBeUndefined();
    expect(fx.stats.maxInFlight).toBe(PUBLISH_ALL_CONCURRENCY);
    const topics = fx.published.map((m) => m.topic);
    expect(topics).toHaveLength(DEVICES - failing.size);
    for (const id of failing) expect(topics).not.toContain(`hearth/${id}/update`);
    expect(fx.published[0]).toMatchObject({ kind: 'update', payload: { installed_version: '1.0.0', latest_version: '1.1.0', in_progress: false } });
    expect(fx.warnings).toHaveLength(1);
    expect(fx.warnings[0]!.obj).toMatchObject({ failed: 3, devices: DEVICES, err: expect.stringContaining('timeout exceeded') });
  });

  it("publishAll reads each model's latest version once per pass", async () => {
    const fx = fixture(new Set());
    await fx.mirror.publishAll();
    expect(fx.published).toHaveLength(DEVICES);
    expect(fx.stats.latestReads).toEqual(['plug-v1']);
    await fx.mirror.publishAll(); // a new pass reads it again (an image may have been uploaded since)
    expect(fx.stats.latestReads).toEqual(['plug-v1', 'plug-v1']);
  });

  it('a failing lookup for a bus event is logged with its device, never left unhandled', async () => {
    process.on('unhandledRejection', onUnhandled);
    const fx = fixture(new Set(['d5']));
    fx.mirror.attach();
    fx.bus.emit('device.updated', { device: deviceInfo(5) });
    fx.bus.emit('device.updated', { device: deviceInfo(6) });
    const until = (cond: () => boolean) => new Promise<void>((resolve) => {
      const check = () => (cond() ? resolve() : setImmediate(check));
      check();
    });
    await until(() => fx.warnings.length === 1 && fx.published.length === 1);
    // Unhandled rejections are reported after the microtask queue drains: give the process one more macrotask.
    await new Promise((r) => setImmediate(r));
    expect(fx.warnings[0]).toMatchObject({ obj: { device: 'd5' }, msg: 'firmware update state not published' });
    expect(fx.published.map((m) => m.topic)).toEqual(['hearth/d6/update']);
    expect(unhandled).toEqual([]);
    fx.mirror.detach();
  });

  it('publishes only the devices it cares for (a hub of several on a shared broker), asked after the event', async () => {
    const mine = new Set(['d1', 'd2']);
    const fx = fixture(new Set(), (id) => mine.has(id));
    await fx.mirror.publishAll();
    expect(fx.published.map((m) => m.topic).sort()).toEqual(['hearth/d1/update', 'hearth/d2/update']);
    fx.published.length = 0;
    fx.mirror.attach();
    fx.bus.emit('device.updated', { device: deviceInfo(7) });
    fx.bus.emit('device.updated', { device: deviceInfo(8) });
    // A HELLO's device.updated comes just before its device is online here: who holds it is asked after the emit.
    mine.add('d8');
    fx.bus.emit('device.updated', { device: deviceInfo(2) });
    await new Promise<void>((resolve) => {
      const check = () => (fx.published.length === 2 ? resolve() : setImmediate(check));
      check();
    });
    expect(fx.published.map((m) => m.topic).sort()).toEqual(['hearth/d2/update', 'hearth/d8/update']);
    fx.mirror.detach();
  });
});
