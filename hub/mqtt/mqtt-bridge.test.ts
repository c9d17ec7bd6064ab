// MqttBridge options: listeners switched off, roles allowed to connect, anonymous access, base topic and
// discovery switches, and the configuration errors start() reports.
import { afterEach, describe, expect, it } from '@jest/globals';
import { BridgeFixture } from './testing/bridge-fixture.js';
import { SAMPLE_CAPS as C, device } from './testing/sample-devices.js';
import { TestHubFacade } from './testing/test-hub-facade.js';
import { record, waitForMessage } from './testing/mqtt-test-kit.js';
import { MqttBridge, type MqttBridgeOptions } from './mqtt-bridge.js';

let fx: BridgeFixture | null = null;
const cleanups: (() => void)[] = [];
const defer = (cleanup: () => void) => void cleanups.push(cleanup);
afterEach(async () => {
  await fx?.close();
  fx = null;
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function open(opts: Partial<MqttBridgeOptions>): Promise<BridgeFixture> {
  fx = new BridgeFixture();
  fx.facade.upsertDevice(device({ id: 'd1', type: 'plug', online: true, capabilities: [C.on] }));
  await fx.open(opts);
  return fx;
}

describe('MqttBridge options', () => {
  it('a known user whose role is not allowed gets CONNACK 5', async () => {
    const f = await open({ allowedRoles: ['admin', 'integration'] });
    const code = await f.client('viewer').then(() => 0, (err: { code?: number }) => err.code);
    expect(code).toBe(5);
    expect(f.logger.records.some((l) => l.obj['code'] === 'HUB_ERR_MQTT_NOT_AUTHORIZED' && l.obj['user'] === 'viewer')).toBe(true);
    expect((await f.client('integration')).connected).toBe(true);
  });

  it('allowAnonymous lets clients without a user in, with the anonymous role (viewer: read only)', async () => {
    const f = await open({ allowAnonymous: true });
    const c = await f.client(null);
    const got = record(c);
    await c.subscribeAsync('hearth/d1/availability');
    expect((await waitForMessage(got, 'hearth/d1/availability')).payload).toBe('online');
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    c.publish('hearth/d1/set/on', 'ON');
    await closed;
    expect(f.facade.sent).toEqual([]);
    // Credentials are still checked when given.
    const code = await f.client(null, { username: 'viewer', password: 'wrong' }).then(() => 0, (err: { code?: number }) => err.code);
    expect(code).toBe(4);
  });

  it('listeners can be switched off; addresses() reports only the open ones', async () => {
    const f = await open({ tcpPort: null, tlsPort: false, websocket: false });
    expect(f.bridge.addresses()).toEqual({ tcp: null, tls: null, ws: null, externalConnected: null });
  });

  it('addresses() reports bound ports and the WebSocket path', async () => {
    const f = await open({});
    const a = f.bridge.addresses();
    expect(a.tcp).toMatchObject({ address: '127.0.0.1', port: expect.any(Number) });
    expect(a.tls).toMatchObject({ address: '127.0.0.1', port: expect.any(Number) });
    expect(a.tcp!.port).not.toBe(a.tls!.port);
    expect(a.ws).toBe('/mqtt');
  });

  it('uses the configured base topic, and publishes no discovery when it is off', async () => {
    const f = await open({ baseTopic: 'home/hub2', discovery: false });
    const c = await f.client('admin');
    const got = record(c);
    await c.subscribeAsync(['homeassistant/#', 'home/hub2/bridge/state']);
    await waitForMessage(got, 'home/hub2/bridge/state');
    expect(got.filter((m) => m.topic.startsWith('homeassistant/'))).toEqual([]);
    await c.subscribeAsync('home/hub2/d1/set/on/result');
    await c.publishAsync('home/hub2/d1/set/on', 'ON');
    expect(JSON.parse((await waitForMessage(got, 'home/hub2/d1/set/on/result')).payload)).toMatchObject({ status: 'ok' });
  });

  it('start() refuses a TLS port without a key and certificate, and a port in use', async () => {
    const facade = new TestHubFacade();
    defer(() => facade.close());
    const auth = { authorize: async () => null };
    const noTls = new MqttBridge({ facade, auth, tcpPort: null, tlsPort: 0 });
    await expect(noTls.start()).rejects.toThrow(/HUB_ERR_CONFIG/);
    const f = await open({});
    const clash = new MqttBridge({ facade, auth, tcpPort: f.tcpPort });
    await expect(clash.start()).rejects.toThrow(/EADDRINUSE/);
    await clash.stop();
  });
});
