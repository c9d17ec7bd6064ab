// External broker mode against a real Mosquitto spawned by the test (password file, loopback listener):
// the same topic tree published there, commands read from there, the last will, and re-publishing after
// the connection or the broker itself comes back.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually } from '../../test/support/eventually.js';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { MqttBridge } from './mqtt-bridge.js';
import { SAMPLE_CAPS as C, device } from './testing/sample-devices.js';
import { TestHubFacade } from './testing/test-hub-facade.js';
import {
  MosquittoServer,
  freePort,
  memoryLogger,
  mosquittoGate,
  MOSQUITTO_PUB,
  mosquittoPub,
  mosquittoSub,
  parseSubLines,
  record,
  requireMosquitto,
  run as runProgram,
  waitForMessage,
} from './testing/mqtt-test-kit.js';

const USERS = { hub: 'pw-hub', ha: 'pw-ha' };

/** A TCP relay between the bridge and Mosquitto whose connections the test can cut, as a network would. */
class CuttableLink {
  readonly #sockets = new Set<net.Socket>();
  readonly server: net.Server;

  constructor(targetPort: number) {
    this.server = net.createServer((inbound) => {
      const outbound = net.connect(targetPort, '127.0.0.1');
      for (const s of [inbound, outbound]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      inbound.pipe(outbound).pipe(inbound);
      inbound.on('close', () => outbound.destroy());
      outbound.on('close', () => inbound.destroy());
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Resets every relayed connection: Mosquitto sees the client vanish and publishes its will. */
  cut(): void {
    for (const s of this.#sockets) s.resetAndDestroy();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const run = mosquittoGate() === 'run' ? describe : describe.skip;

run('external broker mode (real Mosquitto)', () => {
  const facade = new TestHubFacade();
  const logger = memoryLogger();
  let dir = '';
  let mosquitto: MosquittoServer;
  let link: CuttableLink;
  let bridge: MqttBridge;
  const clients: MqttClient[] = [];

  const ha = async (): Promise<MqttClient> => {
    const c = await connectAsync(`mqtt://127.0.0.1:${mosquitto.port}`, { username: 'ha', password: USERS.ha, reconnectPeriod: 0 });
    clients.push(c);
    return c;
  };
  const sub = (topics: string[], count: number) =>
    mosquittoSub({ port: mosquitto.port, user: 'ha', password: USERS.ha, topics, count, waitS: 10 });

  beforeAll(async () => {
    requireMosquitto();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-mosq-'));
    mosquitto = new MosquittoServer(dir, await freePort());
    mosquitto.configure(USERS);
    await mosquitto.start();
    link = new CuttableLink(mosquitto.port);
    const linkPort = await link.listen();
    facade.upsertDevice(device({ id: 'th1', type: 'thermostat', online: true, capabilities: [C.temperature, C.setpoint] }));
    facade.pushReadings('th1', [{ metric: 'temperature', value: { type: 'float', value: 21 }, ts: 100 }]);
    bridge = new MqttBridge({
      facade,
      auth: { authorize: async () => null },
      embedded: false,
      external: { url: `mqtt://127.0.0.1:${linkPort}`, username: 'hub', password: USERS.hub, reconnectPeriodMs: 100, clientId: 'hearth-test' },
      rediscoverDelayMs: 0,
      logger,
    });
    await bridge.start();
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await bridge?.stop();
    await link?.close();
    await mosquitto?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    facade.close();
  });

  it('publishes the retained tree into the external broker', async () => {
    const r = await sub(['hearth/bridge/state', 'hearth/th1/state', 'hearth/th1/availability', 'homeassistant/device/hearth_th1/config'], 4);
    expect(r.code).toBe(0);
    const got = parseSubLines(r.stdout);
    expect(got.get('hearth/bridge/state')).toBe('online');
    expect(got.get('hearth/th1/availability')).toBe('online');
    expect(JSON.parse(got.get('hearth/th1/state')!)).toEqual({ temperature: { value: 21, ts: 100 } });
    expect(JSON.parse(got.get('homeassistant/device/hearth_th1/config')!)).toMatchObject({ cmps: { climate: { p: 'climate', temperature_command_topic: 'hearth/th1/set/setpoint' } } });
    expect(bridge.addresses().externalConnected).toBe(true);
  });

  it('takes commands published on the external broker and answers on the result topic', async () => {
    const c = await ha();
    const got = record(c);
    await c.subscribeAsync('hearth/th1/set/setpoint/result');
    const r = await mosquittoPub({ port: mosquitto.port, user: 'ha', password: USERS.ha, topic: 'hearth/th1/set/setpoint', message: '19.5' });
    expect(r.code).toBe(0);
    const result = JSON.parse((await waitForMessage(got, 'hearth/th1/set/setpoint/result')).payload);
    expect(result).toMatchObject({ status: 'ok' });
    expect(facade.sent.at(-1)).toMatchObject({ deviceId: 'th1', command: 'setpoint', input: 19.5 });
    expect(facade.sent.at(-1)!.source).toMatch(/^mqtt-external:/);
  });

  it('when the connection drops, Mosquitto publishes the last will (offline); on reconnect the bridge says online again', async () => {
    const c = await ha();
    const got = record(c);
    await c.subscribeAsync('hearth/bridge/state');
    await waitForMessage(got, 'hearth/bridge/state', (m) => m.payload === 'online');
    const connectsBefore = bridge.externalConnectCount();
    link.cut();
    await waitForMessage(got, 'hearth/bridge/state', (m) => m.payload === 'offline' && !m.retain);
    await eventually(() => bridge.externalConnectCount() > connectsBefore, { timeoutMs: 10_000, what: 'the bridge to reconnect' });
    await waitForMessage(got, 'hearth/bridge/state', (m) => m.payload === 'online' && !m.retain);
  });

  it('after a broker restart it reconnects and re-publishes all retained state, including what changed meanwhile', async () => {
    const connectsBefore = bridge.externalConnectCount();
    await mosquitto.stop(); // persistence is off: Mosquitto forgets every retained message
    await eventually(() => bridge.addresses().externalConnected === false, { timeoutMs: 10_000, what: 'the bridge to notice' });
    facade.pushReadings('th1', [{ metric: 'temperature', value: { type: 'float', value: 23.25 }, ts: 200 }]);
    await mosquitto.start();
    await eventually(() => bridge.externalConnectCount() > connectsBefore, { timeoutMs: 10_000, what: 'the bridge to reconnect' });
    const r = await sub(['hearth/bridge/state', 'hearth/th1/state', 'hearth/th1/temperature'], 3);
    expect(r.code).toBe(0);
    const got = parseSubLines(r.stdout);
    expect(got.get('hearth/bridge/state')).toBe('online');
    expect(got.get('hearth/th1/temperature')).toBe('23.25');
    expect(JSON.parse(got.get('hearth/th1/state')!)).toEqual({ temperature: { value: 23.25, ts: 200 } });
  });

  it('notices through the retained canary that the broker lost retained messages while connected, and re-publishes them', async () => {
    const connectsBefore = bridge.externalConnectCount();
    const clear = (topic: string) => runProgram(MOSQUITTO_PUB, ['-h', '127.0.0.1', '-p', String(mosquitto.port), '-u', 'ha', '-P', USERS.ha, '-t', topic, '-r', '-n']);
    // What a broker that drops its retained store looks like to a subscriber: the state first, the canary last.
    expect((await clear('hearth/th1/state')).code).toBe(0);
    expect((await clear('hearth/bridge/canary')).code).toBe(0);
    await eventually(() => logger.records.some((r) => r.msg.includes('lost the retained messages')), { timeoutMs: 10_000, what: 'the hub to notice' });
    const r = await sub(['hearth/th1/state', 'hearth/bridge/canary'], 2);
    expect(r.code).toBe(0);
    const got = parseSubLines(r.stdout);
    expect(JSON.parse(got.get('hearth/th1/state')!)).toEqual({ temperature: { value: 23.25, ts: 200 } });
    expect(JSON.parse(got.get('hearth/bridge/canary')!)).toEqual({ instance: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(bridge.externalConnectCount()).toBe(connectsBefore); // no reconnect was needed
  });

  it('re-publishes discovery when Home Assistant announces itself on homeassistant/status', async () => {
    const c = await ha();
    const got = record(c);
    await c.subscribeAsync('homeassistant/device/hearth_th1/config');
    await waitForMessage(got, 'homeassistant/device/hearth_th1/config', (m) => m.retain);
    await c.publishAsync('homeassistant/status', 'online');
    await waitForMessage(got, 'homeassistant/device/hearth_th1/config', (m) => !m.retain);
  });

  it('answers bridge requests from the external broker as an integration: devices yes, device/add no', async () => {
    const c = await ha();
    const got = record(c);
    await c.subscribeAsync('hearth/bridge/response/#');
    await c.publishAsync('hearth/bridge/request/devices', '{"transaction": 7}');
    const ok = JSON.parse((await waitForMessage(got, 'hearth/bridge/response/devices')).payload);
    expect(ok).toMatchObject({ status: 'ok', transaction: 7, data: { devices: [{ id: 'th1' }] } });
    await c.publishAsync('hearth/bridge/request/device/add', '{"id": "x1"}');
    const refused = JSON.parse((await waitForMessage(got, 'hearth/bridge/response/device/add')).payload);
    expect(refused).toEqual({ status: 'error', error: 'device/add needs the admin role (this client is integration)', data: {} });
  });

  it('runs beside the embedded broker: the same tree in both, under its own base topic outside', async () => {
    const both = new MqttBridge({
      facade,
      auth: { authorize: async () => null },
      allowAnonymous: true,
      tcpPort: 0,
      tlsPort: null,
      external: { url: `mqtt://127.0.0.1:${mosquitto.port}`, username: 'hub', password: USERS.hub, baseTopic: 'hub2', reconnectPeriodMs: 100 },
    });
    await both.start();
    try {
      const outside = await sub(['hub2/bridge/state', 'hub2/th1/temperature'], 2);
      expect(parseSubLines(outside.stdout)).toEqual(new Map([['hub2/bridge/state', 'online'], ['hub2/th1/temperature', '23.25']]));
      const inside = await connectAsync(`mqtt://127.0.0.1:${both.addresses().tcp!.port}`, { reconnectPeriod: 0 });
      clients.push(inside);
      const got = record(inside);
      await inside.subscribeAsync('hearth/th1/temperature');
      expect((await waitForMessage(got, 'hearth/th1/temperature')).payload).toBe('23.25');
    } finally {
      await both.stop();
    }
  });

  it('stop() leaves bridge/state offline, retained', async () => {
    await bridge.stop();
    const r = await sub(['hearth/bridge/state'], 1);
    expect(r.code).toBe(0);
    expect(parseSubLines(r.stdout).get('hearth/bridge/state')).toBe('offline');
  });
});

run("the hub's client speaks MQTT 5 to Mosquitto, 3.1.1 as a setting", () => {
  const facade = new TestHubFacade();
  let dir = '';
  let mosquitto: MosquittoServer;
  const bridges: MqttBridge[] = [];

  beforeAll(async () => {
    requireMosquitto();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-mosq5-'));
    mosquitto = new MosquittoServer(dir, await freePort());
    mosquitto.configure(USERS);
    await mosquitto.start();
    facade.upsertDevice(device({ id: 'th1', type: 'thermostat', online: true, capabilities: [C.temperature, C.setpoint] }));
  });
  afterAll(async () => {
    for (const b of bridges) await b.stop();
    await mosquitto?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    facade.close();
  });

  it.each([
    ['the default, MQTT 5', undefined, 'p5', 'v5'],
    // Mosquitto's numbering: p1 MQTT 3.1, p2 MQTT 3.1.1, p5 MQTT 5.
    ['mqtt.protocolVersion 3.1.1', 4, 'p2', 'v4'],
  ] as const)('%s: Mosquitto logs the level, the tree is published and commands arrive', async (_name, protocolVersion, level, base) => {
    const clientId = `hearth-${base}`;
    const bridge = new MqttBridge({
      facade,
      auth: { authorize: async () => null },
      embedded: false,
      baseTopic: base,
      external: { url: `mqtt://127.0.0.1:${mosquitto.port}`, username: 'hub', password: USERS.hub, reconnectPeriodMs: 100, clientId, ...(protocolVersion ? { protocolVersion } : {}) },
      rediscoverDelayMs: 0,
    });
    bridges.push(bridge);
    await bridge.start();
    await eventually(() => bridge.addresses().externalConnected === true, { timeoutMs: 10_000, what: 'the bridge to connect' });
    // Mosquitto's notice "New client connected from ... as <id> (p5, c1, k60, u'hub')" names the protocol level.
    await eventually(() => mosquitto.log.includes(`as ${clientId} (${level},`), { what: () => `the connect line of ${clientId}: ${mosquitto.log}` });
    const r = await mosquittoSub({ port: mosquitto.port, user: 'ha', password: USERS.ha, topics: [`${base}/bridge/state`], count: 1, extra: ['-V', 'mqttv5'] });
    expect(parseSubLines(r.stdout).get(`${base}/bridge/state`)).toBe('online');
    const sent = facade.sent.length;
    expect((await mosquittoPub({ port: mosquitto.port, user: 'ha', password: USERS.ha, topic: `${base}/th1/set/setpoint`, message: '18' })).code).toBe(0);
    await eventually(() => facade.sent.length > sent);
    expect(facade.sent.at(-1)).toMatchObject({ deviceId: 'th1', command: 'setpoint', input: 18 });
  });
});
