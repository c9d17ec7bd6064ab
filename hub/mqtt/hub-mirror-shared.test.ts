// One hub of several on a shared external broker (a real Mosquitto): it publishes the discovery and availability
// of the devices it holds and, as the caretaker, of those no hub holds and the device list, not those of
// another hub's devices; and the caretaker clears the retained topics of a removed device another hub published.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually } from '../../test/support/eventually.js';
import { bridgeDiscovery, discoveryFor } from './discovery.js';
import { LIST_SWEEP_MS } from './hub-mirror.js';
import { MqttBridge } from './mqtt-bridge.js';
import type { Timers } from '../timers.js';
import { SAMPLE_CAPS as C, device } from './testing/sample-devices.js';
import { TestHubFacade } from './testing/test-hub-facade.js';
import { memoryLogger, mosquittoGate, record, SuiteMosquitto, waitForMessage, type Received } from './testing/mqtt-test-kit.js';
import { Topics } from './topics.js';

const USERS = { hub: 'pw-hub', ha: 'pw-ha' };
const SELF = 'hub-b';
const topics = new Topics();
const config = (id: string) => `homeassistant/device/hearth_${id}/config`;
const run = mosquittoGate() === 'run' ? describe : describe.skip;

run('a hub of several on a shared broker (real Mosquitto)', () => {
  /** Devices another hub holds, by the id of that hub. */
  const holders = new Map<string, string>();
  let caretaker = false;
  const facade = new TestHubFacade({
    view: (info) => (info.online ? { ...info, hub: SELF } : { ...info, online: holders.has(info.id), hub: holders.get(info.id) ?? null }),
  });
  const mosquitto = new SuiteMosquitto(USERS);
  // The mirror's sweep (every LIST_SWEEP_MS) runs when a test says so; every other timer is real.
  const sweeps: (() => void)[] = [];
  const timers: Timers = {
    setTimeout: (fn, ms) => (ms === LIST_SWEEP_MS ? (sweeps.push(fn), {}) : setTimeout(fn, ms)),
    clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  };
  const sweep = () => sweeps.shift()!();
  let bridge: MqttBridge;
  const ha = () => mosquitto.client('ha');

  /** The retained messages a fresh subscriber gets: a sentinel retained just before, subscribed last, comes after them. */
  let marks = 0;
  const retained = async (filters: string[]): Promise<Received[]> => {
    const c = await ha();
    const mark = `mark-${++marks}`;
    await c.publishAsync('test/sentinel', mark, { qos: 1, retain: true });
    const got = record(c);
    await c.subscribeAsync(filters, { qos: 1 });
    await c.subscribeAsync('test/sentinel', { qos: 1 });
    await waitForMessage(got, 'test/sentinel', (m) => m.payload === mark);
    return got.filter((m) => m.topic !== 'test/sentinel' && m.payload !== '');
  };

  beforeAll(async () => {
    await mosquitto.start();
    facade.upsertDevice(device({ id: 'mine', type: 'thermostat', online: true, capabilities: [C.temperature, C.setpoint] }));
    facade.upsertDevice(device({ id: 'far', type: 'light', updatable: true, capabilities: [C.on, C.brightness] }));
    facade.upsertDevice(device({ id: 'idle', type: 'plug', capabilities: [C.on, C.energy] }));
    holders.set('far', 'hub-a');
    bridge = new MqttBridge({
      facade,
      auth: { authorize: async () => null },
      embedded: false,
      external: { url: `mqtt://127.0.0.1:${mosquitto.port}`, username: 'hub', password: USERS.hub, reconnectPeriodMs: 100 },
      cluster: { othersAlive: () => true, caretaker: () => caretaker },
      hubId: SELF,
      rediscoverDelayMs: 0,
      healthIntervalMs: 0, // the only other timer of LIST_SWEEP_MS
      timers,
      logger: memoryLogger(),
    });
    await bridge.start();
    await eventually(() => bridge.addresses().externalConnected === true, { timeoutMs: 10_000, what: 'the bridge to connect to Mosquitto' });
  });

  afterAll(async () => {
    await bridge?.stop();
    await mosquitto.stop();
    facade.close();
  });

  it('at start, not the caretaker: the discovery and availability of its own device only, and no device list', async () => {
    const got = await retained(['homeassistant/#', 'hearth/+/availability', 'hearth/bridge/devices', 'hearth/bridge/hubs/+/state']);
    const seen = new Set(got.map((m) => m.topic));
    expect(seen).toEqual(new Set([config('mine'), 'hearth/mine/availability', `hearth/bridge/hubs/${SELF}/state`, ...bridgeDiscovery(topics).filter((e) => e.config).map((e) => e.topic)]));
    expect(got.find((m) => m.topic === 'hearth/mine/availability')?.payload).toBe('online');
  });

  it("leaves another hub's device and, not the caretaker, a device no hub holds; as the caretaker, publishes that one and the list", async () => {
    const c = await ha();
    const got = record(c);
    await c.subscribeAsync(['homeassistant/device/+/config', 'hearth/bridge/devices', 'hearth/mine/availability'], { qos: 1 });
    await facade.rename('far', { name: 'Far away' });
    await facade.rename('idle', { name: 'Idle plug' });
    // The mirror publishes in order: once this one is here, any config for the two before it would be too.
    await facade.rename('mine', { name: 'Mine 2' });
    await waitForMessage(got, config('mine'), (m) => m.payload.includes('Mine 2'));
    expect(got.filter((m) => m.topic === config('far') || m.topic === config('idle'))).toEqual([]);
    // Its own device leaving and coming back: availability, but the list is the caretaker's.
    facade.setOnline('mine', false);
    await waitForMessage(got, 'hearth/mine/availability', (m) => m.payload === 'offline');
    facade.setOnline('mine', true);
    await bridge.idle();
    expect(got.filter((m) => m.topic === 'hearth/bridge/devices')).toEqual([]);

    caretaker = true;
    await facade.rename('idle', { name: 'Idle plug 2' });
    await facade.rename('far', { name: 'Far away 2' });
    await facade.rename('mine', { name: 'Mine 3' });
    await waitForMessage(got, config('mine'), (m) => m.payload.includes('Mine 3'));
    expect(got.filter((m) => m.topic === config('idle')).map((m) => JSON.parse(m.payload).dev.name)).toEqual(['Idle plug 2']);
    expect(got.filter((m) => m.topic === config('far'))).toEqual([]);
    const list = await waitForMessage(got, 'hearth/bridge/devices', (m) => m.payload.includes('Idle plug 2'));
    expect((JSON.parse(list.payload) as { id: string }[]).map((d) => d.id).sort()).toEqual(['far', 'idle', 'mine']);
  });

  it('as the caretaker, clears every retained topic of a removed device that another hub published', async () => {
    caretaker = true;
    const far = facade.device('far')!;
    // What hub-a published for it while it held the device.
    const other = await ha();
    for (const e of discoveryFor(far, topics)) await other.publishAsync(e.topic, JSON.stringify(e.config), { qos: 1, retain: true });
    await other.publishAsync('hearth/far/availability', 'online', { qos: 1, retain: true });
    await other.publishAsync('hearth/far/on', 'true', { qos: 1, retain: true });
    await other.publishAsync('hearth/far/update', JSON.stringify({ installed_version: '1.0.0' }), { qos: 1, retain: true });
    expect((await retained(['homeassistant/#', 'hearth/far/#'])).map((m) => m.topic)).toEqual(
      expect.arrayContaining([config('far'), 'hearth/far/availability', 'hearth/far/on', 'hearth/far/update']),
    );

    holders.delete('far');
    await facade.remove('far');
    await bridge.idle();
    const left = await retained(['homeassistant/#', 'hearth/far/#']);
    expect(left.filter((m) => m.topic.includes('far'))).toEqual([]);
    expect(left.map((m) => m.topic)).toContain(config('mine'));
  });

  it('a hub that becomes the caretaker publishes the devices no hub holds, changed while there was none', async () => {
    const c = await ha();
    const got = record(c);
    await c.subscribeAsync('homeassistant/device/+/config', { qos: 1 });
    caretaker = false;
    sweep(); // the caretaker it was is gone (stale): none yet
    await facade.rename('idle', { name: 'Idle plug 3' });
    await facade.rename('mine', { name: 'Mine 4' });
    await waitForMessage(got, config('mine'), (m) => !m.retain && m.payload.includes('Mine 4'));
    expect(got.filter((m) => m.topic === config('idle') && !m.retain)).toEqual([]);

    caretaker = true;
    sweep();
    await waitForMessage(got, config('idle'), (m) => !m.retain && m.payload.includes('Idle plug 3'));
    await bridge.idle();
    // Its own device is not part of that: it went out on its change.
    expect(got.filter((m) => m.topic === config('mine') && !m.retain)).toHaveLength(1);
  });
});
