// HubMirror.publishAll() over a large fleet: publishes resolve at once (handed over, or held while the socket
// is full), so the pass gives the event loop a turn every few hundred devices instead of holding it throughout.
import { describe, expect, it } from '@jest/globals';
import { EventBus, type DeviceInfo } from '../events.js';
import type { DeviceFacade } from '../facade.js';
import { systemTimers } from '../timers.js';
import { HubMirror } from './hub-mirror.js';
import { SAMPLE_CAPS as C, device } from './testing/sample-devices.js';
import { Topics } from './topics.js';

const DEVICES = 2_000;

describe('HubMirror.publishAll on a large fleet', () => {
  it('publishes every device and lets the event loop run during the pass', async () => {
    const devices: DeviceInfo[] = Array.from({ length: DEVICES }, (_, i) => device({ id: `plug-${i}`, type: 'plug', online: true, capabilities: [C.on, C.energy] }));
    const facade = { bus: new EventBus(), devices: () => devices, device: (id: string) => devices.find((d) => d.id === id), currentState: () => ({}) } as unknown as DeviceFacade;
    let turns = 0;
    const turnsAt = new Map<string, number>();
    const noop = () => {};
    const mirror = new HubMirror({
      facade,
      publisher: { publish: async (topic) => void turnsAt.set(topic, turns) },
      topics: new Topics(),
      discovery: true,
      logger: { debug: noop, info: noop, warn: noop, error: noop },
      ...{ rediscoverDelayMs: 0, rediscoverRate: 1000, stateHeartbeatMs: 0, stateMinIntervalMs: 0, canary: null },
      ...{ now: Date.now, timers: systemTimers, random: Math.random },
    });
    let done = false;
    const tick = () => {
      turns++;
      if (!done) setImmediate(tick);
    };
    setImmediate(tick);
    await mirror.publishAll();
    done = true;
    for (const d of devices) expect(turnsAt.has(`hearth/${d.id}/availability`)).toBe(true);
    expect(turnsAt.get('hearth/plug-0/availability')).toBe(0);
    expect(turnsAt.get(`hearth/plug-${DEVICES - 1}/availability`)).toBeGreaterThan(1);
  });
});
