// The embedded broker's doors: TCP (driven by the real mosquitto_sub/mosquitto_pub), TLS, WebSocket on the
// hub's HTTPS server, authentication return codes and the per-role ACL.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually } from '../../test/support/eventually.js';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { BridgeFixture, PASSWORDS } from './testing/bridge-fixture.js';
import { SAMPLE_CAPS as C, device } from './testing/sample-devices.js';
import {
  mosquittoGate,
  mosquittoPub,
  mosquittoSub,
  parseSubLines,
  record,
  requireMosquitto,
  waitForMessage,
} from './testing/mqtt-test-kit.js';

const fx = new BridgeFixture();

beforeAll(async () => {
  fx.facade.upsertDevice(device({ id: 'th1', type: 'thermostat', online: true, capabilities: [C.temperature, C.setpoint] }));
  await fx.open();
  fx.facade.pushReadings('th1', [{ metric: 'temperature', value: { type: 'float', value: 20.5 }, ts: 1000 }]);
  await fx.bridge.idle();
});
afterAll(() => fx.close());

const withMosquitto = mosquittoGate() === 'run' ? describe : describe.skip;

withMosquitto('with the Mosquitto command-line clients over TCP', () => {
  beforeAll(() => requireMosquitto());

  it('mosquitto_sub with credentials sees retained bridge state, availability and device state', async () => {
    const r = await mosquittoSub({
      port: fx.tcpPort,
      user: 'viewer',
      password: PASSWORDS.viewer,
      topics: ['hearth/bridge/state', 'hearth/th1/availability', 'hearth/th1/state', 'hearth/th1/temperature'],
      count: 4,
    });
    expect(r.code).toBe(0);
    const got = parseSubLines(r.stdout);
    expect(got.get('hearth/bridge/state')).toBe('online');
    expect(got.get('hearth/th1/availability')).toBe('online');
    expect(got.get('hearth/th1/temperature')).toBe('20.5');
    expect(JSON.parse(got.get('hearth/th1/state')!)).toEqual({ temperature: { value: 20.5, ts: 1000 } });
  });

  it('mosquitto_pub with a wrong password is refused: bad user name or password (CONNACK 4)', async () => {
    const r = await mosquittoPub({ port: fx.tcpPort, topic: 'hearth/th1/set/setpoint', message: '20', user: 'integration', password: 'nope' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/bad user name or password/i);
    expect(fx.logger.records.some((l) => l.obj['code'] === 'HUB_ERR_MQTT_BAD_CREDENTIALS' && l.obj['user'] === 'integration')).toBe(true);
  });

  it('mosquitto_pub without credentials is refused: not authorised (CONNACK 5)', async () => {
    const r = await mosquittoPub({ port: fx.tcpPort, topic: 'hearth/th1/set/setpoint', message: '20' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/not authori[sz]ed/i);
  });
});

describe('listeners', () => {
  it('serves MQTT over WebSocket at /mqtt on the https server (wss, trusting the self-signed cert)', async () => {
    const c = await fx.client('viewer', { url: `wss://127.0.0.1:${fx.httpsPort}/mqtt`, ca: fx.tlsPems.cert });
    const got = record(c);
    await c.subscribeAsync('hearth/th1/state');
    const m = await waitForMessage(got, 'hearth/th1/state');
    expect(m.retain).toBe(true);
    expect(JSON.parse(m.payload)).toEqual({ temperature: { value: 20.5, ts: 1000 } });
  });

  it('takes only the upgrades routed to it: another path on the same https server is not accepted as MQTT', async () => {
    // The fixture routes like the hub's HTTPS front: /mqtt to the bridge, other paths 404 (hub/http/server.test.ts).
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = https.request({
        host: '127.0.0.1',
        port: fx.httpsPort,
        path: '/v1/devices/x',
        rejectUnauthorized: false,
        headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('upgrade', () => reject(new Error('the /v1 upgrade was accepted by the MQTT endpoint')));
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(404);
    const c = await fx.client('viewer', { url: `wss://127.0.0.1:${fx.httpsPort}/mqtt`, rejectUnauthorized: false });
    expect(c.connected).toBe(true);
  });

  it('serves MQTT over TLS with the hub certificate', async () => {
    const c = await fx.client('viewer', { url: `mqtts://127.0.0.1:${fx.tlsPort}`, ca: fx.tlsPems.cert });
    const got = record(c);
    await c.subscribeAsync('hearth/bridge/state');
    expect((await waitForMessage(got, 'hearth/bridge/state')).payload).toBe('online');
  });
});

describe('authentication', () => {
  it('refuses an empty client id with clean session off: CONNACK 2 [MQTT-3.1.3-8]', async () => {
    // mqtt.js refuses to send this CONNECT itself, so the bytes are written by hand.
    const connect = Buffer.from([
      0x10, 0x0c, // CONNECT, remaining length 12
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // "MQTT"
      0x04, // protocol level 4 (3.1.1)
      0x00, // flags: clean session off, no user, no password
      0x00, 0x3c, // keep alive 60 s
      0x00, 0x00, // client id: empty
    ]);
    const socket = net.connect(fx.tcpPort, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (d) => chunks.push(d));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.write(connect);
    await closed;
    expect(Buffer.concat(chunks)).toEqual(Buffer.from([0x20, 0x02, 0x00, 0x02]));
    expect(fx.logger.records.some((l) => l.obj['code'] === 'HUB_ERR_MQTT_CLIENT_ID')).toBe(true);
  });

  it('accepts an empty client id with clean session on (the broker assigns one)', async () => {
    const c = await fx.client('viewer', { clientId: '', clean: true });
    expect(c.connected).toBe(true);
  });

  it('wrong password: CONNACK 4; unknown user: CONNACK 4; no user: CONNACK 5', async () => {
    const codeOf = (opts: object) => fx.client(null, opts).then(() => 0, (err: { code?: number }) => err.code);
    expect(await codeOf({ username: 'viewer', password: 'wrong' })).toBe(4);
    expect(await codeOf({ username: 'nobody', password: 'x' })).toBe(4);
    expect(await codeOf({})).toBe(5);
  });
});

describe('ACL', () => {
  it('viewer: a publish to a command topic is refused, logged, and never reaches the hub', async () => {
    const sentBefore = fx.facade.sent.length;
    const c = await fx.client('viewer');
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    c.publish('hearth/th1/set/setpoint', '22');
    await closed; // MQTT 3.1.1 has no negative PUBACK: the broker drops the connection
    await eventually(() => fx.logger.records.some((l) => l.obj['code'] === 'HUB_ERR_MQTT_PUBLISH_DENIED' && l.obj['user'] === 'viewer'));
    const line = fx.logger.records.find((l) => l.obj['code'] === 'HUB_ERR_MQTT_PUBLISH_DENIED')!;
    expect(line).toMatchObject({ level: 'warn', obj: { role: 'viewer', topic: 'hearth/th1/set/setpoint' } });
    expect(fx.facade.sent.length).toBe(sentBefore);
  });

  it('integration and admin may not publish state: refused even for admin', async () => {
    for (const user of ['integration', 'admin'] as const) {
      const c = await fx.client(user);
      const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
      c.publish('hearth/th1/state', '{}', { retain: true });
      await closed;
    }
    const viewer = await fx.client('viewer');
    const got = record(viewer);
    await viewer.subscribeAsync('hearth/th1/state');
    expect(JSON.parse((await waitForMessage(got, 'hearth/th1/state')).payload)).toHaveProperty('temperature');
  });

  it('viewer and integration get SUBACK 0x80 for $SYS; admin is granted it', async () => {
    for (const user of ['viewer', 'integration'] as const) {
      const c = await fx.client(user);
      // mqtt.js rejects when any filter got 0x80; the SUBACK rides on the error.
      const granted = await c.subscribeAsync(['hearth/#', '$SYS/#']).then(
        () => null,
        (err: { packet?: { granted: number[] } }) => err.packet?.granted,
      );
      expect(granted).toEqual([0, 128]);
      expect(fx.logger.records.some((l) => l.obj['code'] === 'HUB_ERR_MQTT_SUBSCRIBE_DENIED' && l.obj['user'] === user)).toBe(true);
    }
    const admin = await fx.client('admin');
    const [g] = await admin.subscribeAsync('$SYS/#');
    expect(g!.qos).toBe(0);
  });

  it('integration can send a command and read its result', async () => {
    const c = await fx.client('integration');
    const got = record(c);
    await c.subscribeAsync('hearth/th1/set/setpoint/result');
    await c.publishAsync('hearth/th1/set/setpoint', '21.5');
    const result = JSON.parse((await waitForMessage(got, 'hearth/th1/set/setpoint/result')).payload);
    expect(result).toMatchObject({ status: 'ok', message: '' });
    expect(fx.facade.sent.at(-1)).toEqual({ deviceId: 'th1', command: 'setpoint', input: 21.5, source: 'mqtt:integration' });
  });
});
