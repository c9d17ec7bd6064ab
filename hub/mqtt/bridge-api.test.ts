// The bridge API (`<base>/bridge/request/<verb>` -> `<base>/bridge/response/<verb>`) and the bridge topics
// (info, event), through real mqtt.js clients of the embedded broker and the hub's real registry.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MqttClient } from 'mqtt';
import { BridgeFixture, type TestUser } from './testing/bridge-fixture.js';
import { SAMPLE_CAPS as C, device } from './testing/sample-devices.js';
import { record, waitForMessage, type Received } from './testing/mqtt-test-kit.js';
import { BRIDGE_VERBS, Topics } from './topics.js';

const fx = new BridgeFixture();
const topics = new Topics();
const clients = new Map<TestUser, { client: MqttClient; got: Received[] }>();
let txn = 0;

beforeAll(async () => {
  fx.facade.upsertDevice(device({ id: 'lamp1', type: 'light', online: true, capabilities: [C.on, C.brightness] }));
  fx.facade.upsertDevice(device({ id: 'th1', type: 'thermostat', capabilities: [C.temperature] }));
  await fx.open({ admin: fx.facade, healthIntervalMs: 0 });
  for (const user of ['admin', 'integration'] as const) {
    const client = await fx.client(user);
    const got = record(client);
    await client.subscribeAsync([`${topics.base}/bridge/response/#`, topics.bridgeEvent(), 'homeassistant/#', topics.bridgeDevices()]);
    clients.set(user, { client, got });
  }
});
afterAll(() => fx.close());

/** Publishes a request as `user` and returns the response carrying its transaction. */
async function request(user: TestUser, verb: string, body: Record<string, unknown> | string = {}): Promise<Record<string, any>> {
  const { client, got } = clients.get(user)!;
  const transaction = `t${++txn}`;
  const payload = typeof body === 'string' ? body : JSON.stringify({ ...body, transaction });
  // A raw body carries no transaction: only a response after this publish can be its answer.
  if (typeof body === 'string') for (let i = got.length - 1; i >= 0; i--) if (got[i]!.topic === topics.bridgeResponse(verb)) got.splice(i, 1);
  await client.publishAsync(topics.bridgeRequest(verb), payload);
  const m = await waitForMessage(got, topics.bridgeResponse(verb), (r) => typeof body === 'string' || (JSON.parse(r.payload) as { transaction?: string }).transaction === transaction);
  got.splice(got.indexOf(m), 1);
  return JSON.parse(m.payload) as Record<string, any>;
}

describe('bridge requests', () => {
  it('devices: every device with its room, transaction echoed', async () => {
    const r = await request('integration', 'devices');
    expect(r).toMatchObject({ status: 'ok', transaction: `t${txn}` });
    expect((r['data'].devices as { id: string; room: null }[]).map((d) => [d.id, d.room])).toEqual([['lamp1', null], ['th1', null]]);
  });

  it('health_check: healthy while storage works, not when it fails', async () => {
    expect(await request('integration', 'health_check')).toMatchObject({ status: 'ok', data: { healthy: true, storage: 'ok' } });
    fx.facade.storageFailing = true;
    try {
      expect(await request('integration', 'health_check')).toMatchObject({ status: 'ok', data: { healthy: false, storage: 'failing' } });
    } finally {
      fx.facade.storageFailing = false;
    }
  });

  it('device/add: admin gets the token once and a device_joined event; integration is refused with the reason', async () => {
    const r = await request('admin', 'device/add', { id: 'new1', name: 'New one', type: 'sensor' });
    expect(r).toMatchObject({ status: 'ok', data: { device: { id: 'new1', name: 'New one', type: 'sensor', room: null } } });
    expect(r['data'].token).toMatch(/^\S{20,}$/);
    expect(fx.facade.device('new1')?.name).toBe('New one');
    const { got } = clients.get('admin')!;
    await waitForMessage(got, topics.bridgeEvent(), (m) => m.payload === JSON.stringify({ type: 'device_joined', data: { id: 'new1', name: 'New one', room: null } }));
    expect(await request('integration', 'device/add', { id: 'new2' })).toEqual({ status: 'error', error: 'device/add needs the admin role (this client is integration)', data: {}, transaction: `t${txn}` });
    expect(fx.facade.device('new2')).toBeUndefined();
    expect(await request('admin', 'device/add', { id: 'new1' })).toMatchObject({ status: 'error', error: 'device "new1" exists' });
    expect((await request('admin', 'device/add', { id: 'bad/id' }))['status']).toBe('error');
  });

  it('device/rename: name and room; discovery gets suggested_area and bridge/devices the room', async () => {
    const r = await request('integration', 'device/rename', { id: 'lamp1', name: 'Desk lamp', room: 'Office' });
    expect(r).toMatchObject({ status: 'ok', data: { device: { id: 'lamp1', name: 'Desk lamp', room: 'Office' } } });
    const { got } = clients.get('integration')!;
    const config = await waitForMessage(got, 'homeassistant/device/hearth_lamp1/config', (m) => m.payload.includes('Office'));
    expect(JSON.parse(config.payload).dev).toMatchObject({ name: 'Desk lamp', suggested_area: 'Office' });
    await waitForMessage(got, topics.bridgeDevices(), (m) => (JSON.parse(m.payload) as { id: string; room: string }[]).some((d) => d.id === 'lamp1' && d.room === 'Office'));
    await waitForMessage(got, topics.bridgeEvent(), (m) => m.payload.includes('"device_updated"') && m.payload.includes('Office'));
    expect((await request('admin', 'device/rename', { id: 'lamp1', room: null }))['data'].device.room).toBeNull();
    expect(await request('admin', 'device/rename', { id: 'lamp1' })).toMatchObject({ status: 'error', error: 'give name, room or both' });
    expect(await request('admin', 'device/rename', { id: 'nope', name: 'x' })).toMatchObject({ status: 'error', error: 'no device "nope"' });
    expect(await request('admin', 'device/rename', { id: 'lamp1', name: ' ' })).toMatchObject({ status: 'error' });
  });

  it('device/revoke: admin only; the device leaves', async () => {
    expect(await request('integration', 'device/revoke', { id: 'new1' })).toMatchObject({ status: 'error', error: 'device/revoke needs the admin role (this client is integration)' });
    expect(await request('admin', 'device/revoke', { id: 'new1' })).toMatchObject({ status: 'ok', data: { id: 'new1' } });
    expect(fx.facade.device('new1')).toBeUndefined();
    await waitForMessage(clients.get('admin')!.got, topics.bridgeEvent(), (m) => m.payload === JSON.stringify({ type: 'device_left', data: { id: 'new1' } }));
    expect(await request('admin', 'device/revoke', { id: 'new1' })).toMatchObject({ status: 'error' });
  });

  it('device/remove: admin only; its retained topics are cleared', async () => {
    expect(await request('integration', 'device/remove', { id: 'th1' })).toMatchObject({ status: 'error', error: 'device/remove needs the admin role (this client is integration)' });
    const { got } = clients.get('admin')!;
    expect(await request('admin', 'device/remove', { id: 'th1' })).toMatchObject({ status: 'ok', data: { id: 'th1' } });
    expect(fx.facade.device('th1')).toBeUndefined();
    await waitForMessage(got, 'homeassistant/device/hearth_th1/config', (m) => m.payload === '');
    expect(await request('admin', 'device/remove', { id: 'th1' })).toMatchObject({ status: 'error', error: 'no device "th1"' });
  });

  it('refuses an unknown verb, a body that is not a JSON object and a missing id, naming the problem', async () => {
    expect(await request('admin', 'device/explode', { id: 'lamp1' })).toMatchObject({ status: 'error', error: `unknown request "device/explode"; verbs: ${BRIDGE_VERBS.join(', ')}` });
    expect(await request('admin', 'device/rename', '[1,2]')).toEqual({ status: 'error', error: 'the request must be a JSON object', data: {} });
    expect(await request('admin', 'device/rename', 'not json')).toEqual({ status: 'error', error: 'the request must be a JSON object', data: {} });
    expect(await request('admin', 'device/revoke', {})).toMatchObject({ status: 'error', error: 'id is required: the device id' });
  });

  it.each([...BRIDGE_VERBS])('%s refuses a body that is not a JSON object, naming the problem', async (verb) => {
    expect(await request('admin', verb, '"just a string"')).toEqual({ status: 'error', error: 'the request must be a JSON object', data: {} });
  });

  it('a viewer may not send requests, and nobody but the hub writes bridge/response or bridge/info', async () => {
    const viewer = await fx.client('viewer');
    const closed = new Promise<void>((resolve) => viewer.once('close', () => resolve()));
    viewer.publish(topics.bridgeRequest('devices'), '{}');
    await closed;
    const integration = await fx.client('integration');
    const closed2 = new Promise<void>((resolve) => integration.once('close', () => resolve()));
    integration.publish(topics.bridgeInfo(), '{}');
    await closed2;
    expect(fx.logger.records.filter((r) => r.obj['code'] === 'HUB_ERR_MQTT_PUBLISH_DENIED').map((r) => r.obj['topic'])).toEqual(
      expect.arrayContaining([topics.bridgeRequest('devices'), topics.bridgeInfo()]),
    );
  });
});

describe('bridge topics', () => {
  it('bridge/info is retained with version, devices and MQTT settings', async () => {
    const c = await fx.client('integration');
    const got = record(c);
    await c.subscribeAsync(topics.bridgeInfo());
    const m = await waitForMessage(got, topics.bridgeInfo());
    expect(m.retain).toBe(true);
    const info = JSON.parse(m.payload);
    expect(info).toMatchObject({ version: expect.any(String), commit: null, mqtt: { baseTopic: 'hearth', discoveryPrefix: 'homeassistant', discoveryMode: 'device' } });
    expect(info.devices.total).toBe(fx.facade.devices().length);
    expect(info.uptimeMs).toBeGreaterThanOrEqual(0);
  });

  it('bridge/event tells connects and disconnects', async () => {
    const { got } = clients.get('admin')!;
    fx.facade.setOnline('lamp1', false);
    fx.facade.setOnline('lamp1', true);
    await waitForMessage(got, topics.bridgeEvent(), (m) => m.payload.includes('"device_disconnected"') && m.payload.includes('lamp1'));
    await waitForMessage(got, topics.bridgeEvent(), (m) => m.payload.includes('"device_connected"') && m.payload.includes('lamp1'));
  });
});
