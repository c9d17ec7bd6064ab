// The topic tree as the hub's events drive it, seen by real MQTT clients of the embedded broker.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually } from '../../test/support/eventually.js';
import type { MqttClient } from 'mqtt';
import { bridgeDiscovery, discoveryFor, type DeviceDiscoveryConfig } from './discovery.js';
import { BridgeFixture, type TestUser } from './testing/bridge-fixture.js';
import { SAMPLE_CAPS as C, device } from './testing/sample-devices.js';
import { record, waitForMessage, type Received } from './testing/mqtt-test-kit.js';
import { Topics } from './topics.js';

const fx = new BridgeFixture();
const topics = new Topics();
const DEVICES = [
  device({ id: 'th1', type: 'thermostat', online: true, capabilities: [C.temperature, C.setpoint, C.status] }),
  device({ id: 'lamp1', type: 'light', capabilities: [C.on, C.brightness] }),
  device({ id: 'pir1', type: 'motion', online: true, capabilities: [C.motion] }),
  device({ id: 'btn1', type: 'button', online: true, capabilities: [C.button] }),
  device({ id: 'plug1', type: 'plug', online: true, capabilities: [C.on, C.energy] }),
];

beforeAll(async () => {
  for (const d of DEVICES) fx.facade.upsertDevice(d);
  fx.facade.pushReadings('pir1', [{ metric: 'motion', value: { type: 'bool', value: false }, ts: 500 }]);
  // Anonymous clients as admin: these tests are about the tree, and skipping scrypt per client keeps them fast.
  await fx.open({ allowAnonymous: true, anonymousRole: 'admin' });
});
afterAll(() => fx.close());

/** A client subscribed to `filters` (waits for the SUBACK), recording everything it gets. */
async function watch(filters: string[], user: TestUser | null = null): Promise<{ client: MqttClient; got: Received[] }> {
  const client = await fx.client(user);
  const got = record(client);
  await client.subscribeAsync(filters);
  return { client, got };
}

/**
 * Retained messages a fresh subscriber gets for `filters`. The embedded broker serves retained messages in the
 * order they were last set (aedes' per-filter pass for one or two filters, the hub's single pass for more), so a
 * sentinel retained just before the SUBSCRIBE and subscribed last arrives after everything else.
 */
let sentinels = 0;
async function retainedFor(filters: string[]): Promise<Received[]> {
  const sentinel = 'test/sentinel';
  const mark = `mark-${++sentinels}`;
  const publisher = await fx.client(null);
  await publisher.publishAsync(sentinel, mark, { qos: 1, retain: true });
  await publisher.endAsync();
  const { got } = await watch([...filters, sentinel]);
  await waitForMessage(got, sentinel, (m) => m.payload === mark);
  return got.filter((m) => m.topic !== sentinel && m.retain);
}

describe('retained tree on start', () => {
  it('publishes discovery for every device and the hub, as discoveryFor and bridgeDiscovery build it', async () => {
    const expected = [...bridgeDiscovery(topics), ...DEVICES.flatMap((d) => discoveryFor(d, topics))];
    const { got } = await watch(['homeassistant/#']);
    await eventually(() => expected.every((e) => got.some((m) => m.topic === e.topic)), { timeoutMs: 5000, what: 'every discovery config' });
    for (const e of expected) {
      const m = got.find((x) => x.topic === e.topic)!;
      expect(m.retain).toBe(true);
      expect(JSON.parse(m.payload)).toEqual(e.config);
    }
    // Device-based discovery (the default): one config per device, its entities under cmps.
    expect(new Set(expected.map((e) => e.component))).toEqual(new Set(['device']));
    const platforms = expected.slice(1).flatMap((e) => Object.values((e.config as DeviceDiscoveryConfig).cmps).map((c) => c.p));
    expect(new Set(platforms)).toEqual(new Set(['climate', 'sensor', 'light', 'binary_sensor', 'event', 'switch']));
  });

  it('publishes bridge state, the device list, availability and current state', async () => {
    // The start publishes these after bridge/state (the sentinel of retainedFor): wait for each of them.
    const wanted = ['hearth/bridge/devices', 'hearth/th1/availability', 'hearth/lamp1/availability', 'hearth/pir1/state', 'hearth/pir1/motion'];
    const { got } = await watch(['hearth/bridge/devices', 'hearth/+/availability', 'hearth/pir1/state', 'hearth/pir1/motion']);
    await eventually(() => wanted.every((t) => got.some((m) => m.topic === t && m.retain)), { timeoutMs: 5000, what: 'the retained tree' });
    const by = new Map(got.filter((m) => m.retain).map((m) => [m.topic, m.payload]));
    expect(by.get('hearth/th1/availability')).toBe('online');
    expect(by.get('hearth/lamp1/availability')).toBe('offline');
    expect(by.get('hearth/pir1/motion')).toBe('OFF');
    expect(JSON.parse(by.get('hearth/pir1/state')!)).toEqual({ motion: { value: false, ts: 500 } });
    const list = JSON.parse(by.get('hearth/bridge/devices')!) as { id: string; online: boolean; capabilities: { name: string }[] }[];
    expect(list.map((d) => d.id)).toEqual(DEVICES.map((d) => d.id).sort()); // the registry lists devices by id
    expect(list.find((d) => d.id === 'lamp1')).toMatchObject({ online: false, type: 'light', capabilities: [{ name: 'on' }, { name: 'brightness' }] });
  });
});

describe('events from the hub', () => {
  it('one state publish per readings event, with the latest committed values; plain metric topics too', async () => {
    const { got } = await watch(['hearth/th1/state', 'hearth/th1/temperature', 'hearth/th1/status', 'hearth/pir1/motion']);
    fx.facade.pushReadings('th1', [
      { metric: 'temperature', value: { type: 'float', value: 19 }, ts: 2000 },
      { metric: 'temperature', value: { type: 'float', value: 19.5 }, ts: 2001 },
      { metric: 'status', value: { type: 'enum', value: 1 }, ts: 2001 },
    ]);
    // The state may be held up to mqtt.stateMinIntervalMs after the start's publish (th1 was the last device
    // then, pir1 before it): wait for it, then for a later event on the same queue and connection.
    await waitForMessage(got, 'hearth/th1/state', (m) => !m.retain);
    fx.facade.pushReadings('pir1', [{ metric: 'motion', value: { type: 'bool', value: true }, ts: 2002 }]);
    await waitForMessage(got, 'hearth/pir1/motion', (m) => !m.retain && m.payload === 'ON');
    const live = got.filter((m) => !m.retain);
    expect(live.filter((m) => m.topic === 'hearth/th1/state').map((m) => JSON.parse(m.payload))).toEqual([
      { temperature: { value: 19.5, ts: 2001 }, status: { value: 'heating', ts: 2001 } },
    ]);
    expect(live.filter((m) => m.topic === 'hearth/th1/temperature').map((m) => m.payload)).toEqual(['19.5']);
    expect(live.filter((m) => m.topic === 'hearth/th1/status').map((m) => m.payload)).toEqual(['heating']);
  });

  it('publishes device events on event/<name>, not retained', async () => {
    const { got } = await watch(['hearth/btn1/event/#']);
    fx.facade.pushEvents('btn1', [{ name: 'button', value: { type: 'enum', value: 1 }, ts: 3000 }]);
    const m = await waitForMessage(got, 'hearth/btn1/event/button');
    expect(JSON.parse(m.payload)).toEqual({ value: 'double', ts: 3000 });
    expect(await retainedFor(['hearth/btn1/event/#'])).toEqual([]);
  });

  it('flips availability and the device list on availability events', async () => {
    const { got } = await watch(['hearth/lamp1/availability', 'hearth/bridge/devices']);
    fx.facade.setOnline('lamp1', true);
    await waitForMessage(got, 'hearth/lamp1/availability', (m) => m.payload === 'online' && !m.retain);
    const list = await waitForMessage(got, 'hearth/bridge/devices', (m) => !m.retain);
    expect((JSON.parse(list.payload) as { id: string; online: boolean }[]).find((d) => d.id === 'lamp1')!.online).toBe(true);
    fx.facade.setOnline('lamp1', false);
    await waitForMessage(got, 'hearth/lamp1/availability', (m) => m.payload === 'offline' && !m.retain);
    const [retained] = await retainedFor(['hearth/lamp1/availability']);
    expect(retained!.payload).toBe('offline');
  });

  it('removes the entity and clears the metric topic of a capability that went away', async () => {
    fx.facade.pushReadings('plug1', [{ metric: 'energy', value: { type: 'float', value: 1.5 }, ts: 4000 }]);
    await fx.bridge.idle();
    const config = 'homeassistant/device/hearth_plug1/config';
    const cmps = async () => (JSON.parse((await retainedFor([config]))[0]!.payload) as DeviceDiscoveryConfig).cmps;
    expect((await retainedFor(['hearth/plug1/energy'])).length).toBe(1);
    expect((await cmps()).energy).toMatchObject({ p: 'sensor', device_class: 'energy' });
    fx.facade.upsertDevice({ ...DEVICES[4]!, capabilities: [C.on] });
    await fx.bridge.idle();
    expect(await retainedFor(['hearth/plug1/energy'])).toEqual([]);
    // HA removes a component sent as its platform alone.
    const after = await cmps();
    expect(after.energy).toEqual({ p: 'sensor' });
    expect(after.on).toMatchObject({ p: 'switch', command_topic: 'hearth/plug1/set/on' });
  });

  it("a device's first config in a run clears the per-entity config an earlier run may have left, first", async () => {
    const { got } = await watch(['homeassistant/+/hearth_new2/#']);
    fx.facade.upsertDevice(device({ id: 'new2', type: 'motion', capabilities: [C.motion] }));
    await waitForMessage(got, 'homeassistant/device/hearth_new2/config');
    expect(got.map((m) => [m.topic, m.payload === ''])).toEqual([
      ['homeassistant/binary_sensor/hearth_new2/motion/config', true],
      ['homeassistant/device/hearth_new2/config', false],
    ]);
    fx.facade.removeDevice('new2');
    await fx.bridge.idle();
  });

  it('a device left with no capability has no discovery config', async () => {
    fx.facade.upsertDevice({ ...DEVICES[4]!, capabilities: [] });
    await fx.bridge.idle();
    expect(await retainedFor(['homeassistant/device/hearth_plug1/config'])).toEqual([]);
    fx.facade.upsertDevice(DEVICES[4]!);
    await fx.bridge.idle();
    expect((await retainedFor(['homeassistant/device/hearth_plug1/config'])).length).toBe(1);
  });

  it('device removal clears its discovery configs and every retained topic', async () => {
    const filters = ['homeassistant/+/hearth_pir1/#', 'hearth/pir1/#'];
    const before = await retainedFor(filters);
    expect(before.map((m) => m.topic).sort()).toEqual(
      ['homeassistant/device/hearth_pir1/config', 'hearth/pir1/availability', 'hearth/pir1/motion', 'hearth/pir1/state'].sort(),
    );
    const { got } = await watch(filters);
    fx.facade.removeDevice('pir1');
    await fx.bridge.idle();
    // Live subscribers see the clearing messages: empty payloads.
    for (const m of before) await waitForMessage(got, m.topic, (x) => x.payload === '' && !x.retain);
    expect(await retainedFor(filters)).toEqual([]);
    const [list] = await retainedFor(['hearth/bridge/devices']);
    expect((JSON.parse(list!.payload) as { id: string }[]).map((d) => d.id)).not.toContain('pir1');
  });
});

describe('commands', () => {
  async function command(deviceId: string, cmd: string, payload: string): Promise<{ id: number | null; status: string; message: string }> {
    const { client, got } = await watch([topics.setResult(deviceId, cmd)], 'integration');
    await client.publishAsync(topics.set(deviceId, cmd), payload);
    return JSON.parse((await waitForMessage(got, topics.setResult(deviceId, cmd))).payload);
  }

  it('round trip: the facade gets the parsed value, the result topic gets its outcome', async () => {
    const before = fx.facade.sent.length;
    const result = await command('plug1', 'on', 'OFF');
    expect(fx.facade.sent.slice(before)).toEqual([{ deviceId: 'plug1', command: 'on', input: 'OFF', source: 'mqtt:integration' }]);
    expect(result).toEqual({ id: expect.any(Number), status: 'ok', message: '' });
    expect(await command('th1', 'setpoint', '{"value": 22}')).toMatchObject({ status: 'ok' });
    expect(fx.facade.sent.at(-1)!.input).toBe(22);
  });

  it('passes the device outcome through (failed, with its message)', async () => {
    fx.facade.script = () => ({ status: 'failed', message: 'valve stuck' });
    try {
      expect(await command('th1', 'setpoint', '20')).toMatchObject({ status: 'failed', message: 'valve stuck' });
    } finally {
      fx.facade.script = () => ({ status: 'ok', message: '' });
    }
  });

  it('an offline device: result offline', async () => {
    const result = await command('lamp1', 'on', 'ON');
    expect(result).toMatchObject({ status: 'offline', message: 'device "lamp1" is offline' });
    expect(result.id).toEqual(expect.any(Number));
  });

  it('a malformed payload: result invalid naming the problem, the hub is not asked', async () => {
    const before = fx.facade.sent.length;
    expect(await command('th1', 'setpoint', '{"val": 1}')).toEqual({ id: null, status: 'invalid', message: expect.stringContaining('"value" field') });
    expect(fx.facade.sent.length).toBe(before);
  });

  // docs/mqtt.md: `id` is null when the command was refused before the hub sent it (no command id exists).
  it('a value the capability refuses: result invalid with the hub message and id null', async () => {
    expect(await command('th1', 'setpoint', '99')).toEqual({ id: null, status: 'invalid', message: 'setpoint must be between 5 and 30, got 99' });
  });

  it('a capability that is not writable: result unsupported, as the hub rules, id null', async () => {
    expect(await command('th1', 'temperature', '20')).toEqual({ id: null, status: 'unsupported', message: 'device "th1" has no writable "temperature"' });
  });

  it('an unknown device: result invalid', async () => {
    expect(await command('ghost', 'on', 'ON')).toEqual({ id: null, status: 'invalid', message: 'unknown device ghost' });
  });
});

describe('stop', () => {
  it('publishes bridge/state offline before closing the broker', async () => {
    const { client, got } = await watch(['hearth/bridge/state']);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    await fx.bridge.stop();
    await closed;
    expect(got.filter((m) => !m.retain).map((m) => m.payload)).toEqual(['offline']);
  });
});
