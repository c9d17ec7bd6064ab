// MQTT 5 on the embedded broker with real clients (issue #11 §1): mqtt.js with protocolVersion 5,
// Debian's mosquitto_sub/mosquitto_pub with -V mqttv5 and python3-paho-mqtt (Home Assistant's library) with
// MQTTv5, each doing connect, subscribe, publish QoS 0/1/2, retained, will and a wrong password; and the same
// clients on 3.1.1, which keep working as before.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { BridgeFixture, PASSWORDS } from '../hub/mqtt/testing/bridge-fixture.js';
import { LineProcess, PahoRun, paho, pahoGate, requirePaho } from '../hub/mqtt/testing/mqtt5-kit.js';
import { MOSQUITTO_PUB, MOSQUITTO_SUB, mosquittoGate, record, requireMosquitto, run, waitForMessage } from '../hub/mqtt/testing/mqtt-test-kit.js';
import { SAMPLE_CAPS as C, device } from '../hub/mqtt/testing/sample-devices.js';
import { eventually } from './support/eventually.js';

const fx = new BridgeFixture();
let caFile = '';

beforeAll(async () => {
  fx.facade.upsertDevice(device({ id: 'th1', type: 'thermostat', online: true, capabilities: [C.temperature, C.setpoint] }));
  await fx.open();
  fx.facade.pushReadings('th1', [{ metric: 'temperature', value: { type: 'float', value: 20.5 }, ts: 1000 }]);
  await fx.bridge.idle();
  caFile = path.join(fx.dir, 'ca.pem');
  fs.writeFileSync(caFile, fx.tlsPems.cert);
});
afterAll(() => fx.close());

/** An mqtt.js MQTT 5 client as the integration user. */
const v5 = (opts: Parameters<BridgeFixture['client']>[1] = {}, user: 'integration' | 'viewer' | 'admin' = 'integration') =>
  fx.client(user, { protocolVersion: 5, ...opts });

const listeners = () => ({
  tcp: { url: `mqtt://127.0.0.1:${fx.tcpPort}` },
  tls: { url: `mqtts://127.0.0.1:${fx.tlsPort}`, ca: fx.tlsPems.cert },
  wss: { url: `wss://127.0.0.1:${fx.httpsPort}/mqtt`, ca: fx.tlsPems.cert },
});

describe('mqtt.js, protocolVersion 5', () => {
  it.each(['tcp', 'tls', 'wss'] as const)('connects over %s (CONNACK 0x00) and receives retained discovery and state', async (name) => {
    const c = await v5(listeners()[name]);
    expect(c.options.protocolVersion).toBe(5);
    const got = record(c);
    await c.subscribeAsync(['homeassistant/device/hearth_th1/config', 'hearth/th1/state'], { qos: 1 });
    expect(JSON.parse((await waitForMessage(got, 'hearth/th1/state')).payload)).toEqual({ temperature: { value: 20.5, ts: 1000 } });
    const discovery = await waitForMessage(got, 'homeassistant/device/hearth_th1/config');
    expect(discovery.retain).toBe(true);
    expect(JSON.parse(discovery.payload)).toMatchObject({ dev: { identifiers: ['hearth_th1'] } });
  });

  it('publishes and receives QoS 0, 1 and 2 at the granted QoS', async () => {
    const c = await v5();
    const qos: number[] = [];
    c.on('message', (topic, _p, packet) => topic.startsWith('shared/js/q') && qos.push(packet.qos));
    const granted = await c.subscribeAsync('shared/js/#', { qos: 2 });
    expect(granted.map((g) => g.qos)).toEqual([2]);
    for (const q of [0, 1, 2] as const) await c.publishAsync(`shared/js/q${q}`, `m${q}`, { qos: q });
    await eventually(() => qos.length === 3);
    expect(qos.sort()).toEqual([0, 1, 2]);
  });

  it('a retained message is kept and served to a later subscriber, with its MQTT 5 content type', async () => {
    const a = await v5();
    await a.publishAsync('shared/js/retained', 'kept', { qos: 1, retain: true, properties: { contentType: 'text/plain' } });
    const b = await v5();
    const seen = new Promise<{ payload: string; retain: boolean; contentType: string | undefined }>((resolve) =>
      b.on('message', (topic, payload, packet) => topic === 'shared/js/retained' && resolve({ payload: payload.toString(), retain: packet.retain, contentType: packet.properties?.contentType })),
    );
    await b.subscribeAsync('shared/js/retained');
    expect(await seen).toEqual({ payload: 'kept', retain: true, contentType: 'text/plain' });
  });

  it('a will, with and without a Will Delay Interval, reaches MQTT 5 subscribers as a well-formed PUBLISH', async () => {
    const watcher = await v5();
    const got = record(watcher);
    const props: (Record<string, unknown> | undefined)[] = [];
    watcher.on('message', (topic, _p, packet) => topic.startsWith('shared/js/will') && props.push(packet.properties as Record<string, unknown> | undefined));
    await watcher.subscribeAsync('shared/js/will/#');
    for (const [i, willDelayInterval] of [[0, undefined], [1, 0]] as const) {
      const dying = await v5({ will: { topic: `shared/js/will/${i}`, payload: Buffer.from('gone'), qos: 1, retain: false, ...(willDelayInterval !== undefined ? { properties: { willDelayInterval } } : {}) } });
      dying.stream.destroy(); // no DISCONNECT: the broker publishes the will
      expect((await waitForMessage(got, `shared/js/will/${i}`)).payload).toBe('gone');
    }
    expect(props.every((p) => p === undefined || !('willDelayInterval' in p))).toBe(true);
  });

  it('wrong password: CONNACK 0x86; no user: 0x87; an unknown user: 0x86', async () => {
    const reason = (opts: object) => fx.client(null, { protocolVersion: 5, ...opts }).then(() => 0, (err: { code?: number }) => err.code);
    expect(await reason({ username: 'integration', password: 'wrong' })).toBe(0x86);
    expect(await reason({})).toBe(0x87);
    expect(await reason({ username: 'nobody', password: 'x' })).toBe(0x86);
  });
});

const withMosquitto = mosquittoGate() === 'run' ? describe : describe.skip;

withMosquitto('mosquitto_sub / mosquitto_pub -V mqttv5', () => {
  beforeAll(() => requireMosquitto());
  const auth = (user: keyof typeof PASSWORDS) => ['-h', '127.0.0.1', '-p', String(fx.tcpPort), '-u', user, '-P', PASSWORDS[user]];
  const pub = (args: string[], user: keyof typeof PASSWORDS = 'integration') => run(MOSQUITTO_PUB, [...auth(user), '-V', 'mqttv5', ...args]);
  const sub = (args: string[], user: keyof typeof PASSWORDS = 'integration') =>
    new LineProcess(MOSQUITTO_SUB, [...auth(user), '-V', 'mqttv5', '-F', '%t %q %r %p', ...args]);

  it('subscribes (retained discovery and state), publishes QoS 0/1/2 and retained, over MQTT 5', async () => {
    expect((await pub(['-t', 'shared/mosq/retained', '-m', 'kept', '-r', '-q', '1'])).code).toBe(0);
    const s = sub(['-q', '2', '-t', 'shared/mosq/#', '-t', 'hearth/th1/state', '-t', 'homeassistant/device/hearth_th1/config', '-C', '6']);
    await s.waitFor((l) => l.startsWith('shared/mosq/retained 1 1 kept'), 'the retained message, QoS 1, retain flag');
    await s.waitFor((l) => l.startsWith('hearth/th1/state 0 1 '), 'the retained state');
    await s.waitFor((l) => l.startsWith('homeassistant/device/hearth_th1/config 0 1 '), 'the retained discovery config');
    for (const q of ['0', '1', '2']) expect((await pub(['-t', `shared/mosq/q${q}`, '-m', `m${q}`, '-q', q])).code).toBe(0);
    expect(await s.ended).toBe(0);
    for (const q of ['0', '1', '2']) expect(s.lines).toContain(`shared/mosq/q${q} ${q} 0 m${q}`);
  });

  it('mosquitto_sub -V mqttv5 over TLS, trusting the hub certificate, gets the retained state', async () => {
    const r = await run(MOSQUITTO_SUB, ['-h', '127.0.0.1', '-p', String(fx.tlsPort), '--cafile', caFile, '-u', 'viewer', '-P', PASSWORDS.viewer, '-V', 'mqttv5', '-t', 'hearth/th1/state', '-C', '1', '-W', '5']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ temperature: { value: 20.5, ts: 1000 } });
  });

  it('a will (with a Will Delay Interval) reaches an MQTT 5 mosquitto_sub, which would drop a malformed PUBLISH', async () => {
    // A retained marker each mosquitto_sub receives once its subscription is in place.
    expect((await pub(['-t', 'shared/mosq/ready', '-m', '1', '-r'])).code).toBe(0);
    const s = sub(['-t', 'shared/mosq/will', '-t', 'shared/mosq/ready', '-C', '2']);
    await s.waitFor((l) => l.startsWith('shared/mosq/ready'), 'the watcher subscribed');
    const dying = sub(['-t', 'shared/mosq/ready', '--will-topic', 'shared/mosq/will', '--will-payload', 'gone', '-D', 'will', 'will-delay-interval', '0']);
    await dying.waitFor((l) => l.startsWith('shared/mosq/ready'), 'the dying client connected');
    await dying.kill();
    expect(await s.ended).toBe(0);
    expect(s.lines).toEqual(['shared/mosq/ready 0 1 1', 'shared/mosq/will 0 0 gone']);
  });

  it('wrong password: "Bad user name or password" (0x86); no user: "Not authorized" (0x87)', async () => {
    const wrong = await run(MOSQUITTO_PUB, ['-h', '127.0.0.1', '-p', String(fx.tcpPort), '-V', 'mqttv5', '-u', 'integration', '-P', 'nope', '-t', 'shared/x', '-m', '1']);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/bad user name or password/i);
    const none = await run(MOSQUITTO_PUB, ['-h', '127.0.0.1', '-p', String(fx.tcpPort), '-V', 'mqttv5', '-t', 'shared/x', '-m', '1']);
    expect(none.stderr).toMatch(/not authori[sz]ed/i);
  });
});

const withPaho = pahoGate() === 'run' ? describe : describe.skip;

withPaho("paho-mqtt MQTTv5 (Home Assistant's client library)", () => {
  beforeAll(() => requirePaho());
  const integration = { username: 'integration', password: PASSWORDS.integration };

  it.each(['tcp', 'tls', 'wss'] as const)('connects over %s and receives discovery and state, retained', async (name) => {
    const port = { tcp: fx.tcpPort, tls: fx.tlsPort, wss: fx.httpsPort }[name];
    const events = await paho({
      port,
      ...integration,
      ...(name === 'wss' ? { transport: 'websockets', path: '/mqtt' } : {}),
      ...(name === 'tcp' ? {} : { ca: caFile }),
      subscribe: [['homeassistant/device/hearth_th1/config', 1], ['hearth/th1/state', 1]],
      expect: 2,
    });
    expect(events.find((e) => e.event === 'connack')?.rc).toBe(0);
    expect(events.find((e) => e.event === 'suback')?.granted).toEqual([1, 1]);
    const messages = events.filter((e) => e.event === 'message');
    expect(messages.map((m) => [m.topic, m.retain]).sort()).toEqual([['hearth/th1/state', true], ['homeassistant/device/hearth_th1/config', true]]);
    expect(JSON.parse(messages.find((m) => m.topic === 'hearth/th1/state')!.payload!)).toEqual({ temperature: { value: 20.5, ts: 1000 } });
  });

  it('publishes and receives QoS 0, 1 and 2, and a retained message with its content type', async () => {
    const events = await paho({
      port: fx.tcpPort,
      ...integration,
      subscribe: [['shared/paho/#', 2]],
      publish: [
        { topic: 'shared/paho/q0', payload: 'm0', qos: 0 },
        { topic: 'shared/paho/q1', payload: 'm1', qos: 1 },
        { topic: 'shared/paho/q2', payload: 'm2', qos: 2 },
        { topic: 'shared/paho/retained', payload: 'kept', qos: 1, retain: true, contentType: 'text/plain' },
      ],
      expect: 4,
    });
    const messages = events.filter((e) => e.event === 'message').map((m) => [m.topic, m.qos]);
    expect(messages.sort()).toEqual([['shared/paho/q0', 0], ['shared/paho/q1', 1], ['shared/paho/q2', 2], ['shared/paho/retained', 1]]);
    const later = await paho({ port: fx.tcpPort, ...integration, subscribe: [['shared/paho/retained', 0]], expect: 1 });
    expect(later.find((e) => e.event === 'message')).toMatchObject({ payload: 'kept', retain: true, properties: { contentType: 'text/plain' } });
  });

  it('a will with a Will Delay Interval reaches an MQTT 5 paho subscriber (which refuses a PUBLISH carrying that property)', async () => {
    const watcher = new PahoRun({ port: fx.tcpPort, ...integration, subscribe: [['shared/paho/will', 1]], expect: 1, timeout: 20 });
    await watcher.waitFor((e) => e.event === 'suback', 'subscribed');
    const dying = new PahoRun({ port: fx.tcpPort, ...integration, will: { topic: 'shared/paho/will', payload: 'gone', qos: 1, delay: 0 }, hold: true });
    await dying.waitFor((e) => e.event === 'ready', 'connected');
    await dying.kill();
    const m = await watcher.waitFor((e) => e.event === 'message', 'the will');
    expect(m).toMatchObject({ topic: 'shared/paho/will', payload: 'gone' });
    expect(await watcher.ended).toBe(0);
    expect(watcher.events.some((e) => e.event === 'disconnect' && e.rc !== 0)).toBe(false);
  });

  it('wrong password: CONNACK 0x86 (134); no user: 0x87 (135)', async () => {
    const wrong = await paho({ port: fx.tcpPort, username: 'integration', password: 'nope' });
    expect(wrong.find((e) => e.event === 'connack')?.rc).toBe(0x86);
    const none = await paho({ port: fx.tcpPort });
    expect(none.find((e) => e.event === 'connack')?.rc).toBe(0x87);
  });
});

describe('MQTT 3.1.1 clients keep working as before', () => {
  it('mqtt.js 3.1.1: CONNACK 4 for a wrong password, 5 without a user, and the retained state', async () => {
    const code = (opts: object) => fx.client(null, { protocolVersion: 4, ...opts }).then(() => 0, (err: { code?: number }) => err.code);
    expect(await code({ username: 'viewer', password: 'wrong' })).toBe(4);
    expect(await code({})).toBe(5);
    const c = await fx.client('viewer');
    const got = record(c);
    await c.subscribeAsync('hearth/th1/state');
    expect((await waitForMessage(got, 'hearth/th1/state')).retain).toBe(true);
  });

  withPaho('paho-mqtt MQTTv311', () => {
    it('connects, subscribes and gets the state; CONNACK 4 for a wrong password, 5 without a user', async () => {
      const ok = await paho({ port: fx.tcpPort, version: 4, username: 'viewer', password: PASSWORDS.viewer, subscribe: [['hearth/th1/state', 0]], expect: 1 });
      expect(ok.find((e) => e.event === 'message')).toMatchObject({ topic: 'hearth/th1/state', retain: true });
      expect((await paho({ port: fx.tcpPort, version: 4, username: 'viewer', password: 'nope' })).find((e) => e.event === 'connack')?.rc).toBe(4);
      expect((await paho({ port: fx.tcpPort, version: 4 })).find((e) => e.event === 'connack')?.rc).toBe(5);
    });
  });
});

