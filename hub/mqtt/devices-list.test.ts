// DevicesList builds `<base>/bridge/devices` in slices, the event loop free between them: the same JSON as
// one JSON.stringify of the whole list, without holding the hub's loop for a large fleet.
import { describe, expect, it } from '@jest/globals';
import type { DeviceInfo } from '../events.js';
import type { DeviceFacade } from '../facade.js';
import { systemTimers } from '../timers.js';
import { bridgeDevice } from './bridge-device.js';
import { DevicesList } from './devices-list.js';
import { SAMPLE_CAPS as C, device } from './testing/sample-devices.js';
import { Topics } from './topics.js';

const DEVICES = 4_500;

describe('DevicesList', () => {
  it('publishes the list of a large fleet as one JSON.stringify would, yielding to the event loop while it builds', async () => {
    const devices: DeviceInfo[] = Array.from({ length: DEVICES }, (_, i) =>
      device({ id: `plug-${i}`, name: `Plug "${i}"`, type: 'plug', online: i % 3 === 0, lastSeen: i, capabilities: [C.on, C.energy] }),
    );
    const published: { topic: string; payload: string; retain: boolean; turns: number }[] = [];
    let turns = 0;
    const list = new DevicesList({
      facade: { devices: () => devices } as unknown as DeviceFacade,
      publisher: { publish: async (topic, payload, retain) => void published.push({ topic, payload, retain, turns }) },
      topics: new Topics(),
      usable: (id) => id !== 'plug-7',
      enqueue: (job) => job(),
      now: Date.now,
      timers: systemTimers,
    });
    const tick = () => {
      turns++;
      if (published.length === 0) setImmediate(tick);
    };
    setImmediate(tick);
    await list.publish(false);
    expect(published).toHaveLength(1);
    const [m] = published;
    expect(m!.topic).toBe('hearth/bridge/devices');
    expect(m!.retain).toBe(true);
    expect(m!.payload).toBe(JSON.stringify(devices.filter((d) => d.id !== 'plug-7').map(bridgeDevice)));
    expect(m!.turns).toBeGreaterThan(1);
    // The same list again: nothing sent; forced: sent.
    await list.publish(false);
    expect(published).toHaveLength(1);
    await list.publish(true);
    expect(published).toHaveLength(2);
  });

  it('publishes an empty fleet as []', async () => {
    const published: string[] = [];
    const list = new DevicesList({
      facade: { devices: () => [] } as unknown as DeviceFacade,
      publisher: { publish: async (_t, payload) => void published.push(payload) },
      ...{ topics: new Topics(), usable: () => true, enqueue: (job) => job(), now: Date.now, timers: systemTimers },
    });
    await list.publish(true);
    expect(published).toEqual(['[]']);
  });
});
