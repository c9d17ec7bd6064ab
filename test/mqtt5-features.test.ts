// The MQTT 5 feature survey of the embedded broker (aedes 2.0.0-beta.1 and Hearth's layer), one test per
// feature: what works, what does not (asserted as it behaves, so a fix upstream shows up here), and what our
// layer fixes. docs/mqtt.md tables each feature with the name of its test.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import net from 'node:net';
import { connect, type IClientOptions, type IConnackPacket, type IPublishPacket, type MqttClient, type Packet } from 'mqtt';
import { BridgeFixture, PASSWORDS } from '../hub/mqtt/testing/bridge-fixture.js';
import { eventually } from './support/eventually.js';

const fx = new BridgeFixture();
const raw: MqttClient[] = [];
beforeAll(() => fx.open());
afterAll(async () => {
  await Promise.all(raw.map((c) => c.endAsync(true)));
  await fx.close();
});

/** An MQTT 5 client of the integration user connecting now, with `on` attached before its CONNECT goes out. */
function rawV5(opts: IClientOptions, on: (c: MqttClient) => void): MqttClient {
  const c = connect(`mqtt://127.0.0.1:${fx.tcpPort}`, { protocolVersion: 5, username: 'integration', password: PASSWORDS.integration, reconnectPeriod: 0, manualConnect: true, ...opts });
  raw.push(c);
  on(c);
  c.connect();
  return c;
}

/** The CONNACK the broker sends an MQTT 5 client. */
function connackOf(opts: IClientOptions = {}): Promise<IConnackPacket> {
  return new Promise((resolve) => rawV5(opts, (c) => c.on('packetreceive', (p) => p.cmd === 'connack' && resolve(p as IConnackPacket))));
}

let n = 0;
/** An MQTT 5 client of the integration user, recording every packet it receives. */
async function v5(opts: Parameters<BridgeFixture['client']>[1] = {}): Promise<{ c: MqttClient; packets: Packet[]; publishes: () => IPublishPacket[] }> {
  const packets: Packet[] = [];
  const c = await fx.client('integration', { protocolVersion: 5, clientId: `survey-${++n}`, ...opts });
  c.on('packetreceive', (p) => packets.push(p));
  return { c, packets, publishes: () => packets.filter((p): p is IPublishPacket => p.cmd === 'publish') };
}

describe('MQTT 5 features that work', () => {
  it('user properties, payload format indicator, response topic and correlation data are forwarded', async () => {
    const sub = await v5();
    const pub = await v5();
    await sub.c.subscribeAsync('survey/props', { qos: 1 });
    await pub.c.publishAsync('survey/props', 'hi', {
      qos: 1,
      properties: { userProperties: { k: 'v' }, payloadFormatIndicator: true, responseTopic: 'survey/reply', correlationData: Buffer.from('c1') },
    });
    const [m] = await eventually(() => (sub.publishes().length > 0 ? sub.publishes() : false));
    expect(m!.properties).toMatchObject({ userProperties: { k: 'v' }, payloadFormatIndicator: true, responseTopic: 'survey/reply' });
    expect(Buffer.from(m!.properties!.correlationData!).toString()).toBe('c1');
  });

  it('message expiry: an expired retained message is not served to a new subscriber', async () => {
    const pub = await v5();
    await pub.c.publishAsync('survey/expiry/short', 'soon gone', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
    await pub.c.publishAsync('survey/expiry/long', 'still here', { qos: 1, retain: true, properties: { messageExpiryInterval: 3600 } });
    // Expiry is measured in whole seconds: a subscriber after the second passed must not get the first one.
    const expiredAt = Date.now() + 1100;
    await eventually(() => Date.now() > expiredAt, { timeoutMs: 3000 });
    const sub = await v5();
    await sub.c.subscribeAsync('survey/expiry/#');
    const [m] = await eventually(() => (sub.publishes().length > 0 ? sub.publishes() : false));
    expect(m!.topic).toBe('survey/expiry/long');
    expect(m!.properties?.messageExpiryInterval).toBeLessThanOrEqual(3600);
    expect(sub.publishes().map((p) => p.topic)).toEqual(['survey/expiry/long']);
  });

  it('subscription identifiers are sent with the messages of that subscription', async () => {
    const sub = await v5();
    const pub = await v5();
    await sub.c.subscribeAsync('survey/sid/#', { qos: 1, properties: { subscriptionIdentifier: 7 } });
    await pub.c.publishAsync('survey/sid/x', '1', { qos: 1 });
    const [m] = await eventually(() => (sub.publishes().length > 0 ? sub.publishes() : false));
    expect(m!.properties?.subscriptionIdentifier).toBe(7);
  });

  it('No Local: a client does not get its own publishes back', async () => {
    const a = await v5();
    const b = await v5();
    await a.c.subscribeAsync('survey/nl', { qos: 1, nl: true });
    await b.c.subscribeAsync('survey/nl', { qos: 1 });
    await a.c.publishAsync('survey/nl', 'self', { qos: 1 });
    await eventually(() => b.publishes().length === 1);
    expect(a.publishes()).toEqual([]);
  });

  it('Retain As Published keeps the retain flag on live messages', async () => {
    const rap = await v5();
    const plain = await v5();
    await rap.c.subscribeAsync('survey/rap', { qos: 1, rap: true });
    await plain.c.subscribeAsync('survey/rap', { qos: 1 });
    await (await v5()).c.publishAsync('survey/rap', 'r', { qos: 1, retain: true });
    await eventually(() => rap.publishes().length === 1 && plain.publishes().length === 1);
    expect([rap.publishes()[0]!.retain, plain.publishes()[0]!.retain]).toEqual([true, false]);
  });

  it('Retain Handling: 0 sends retained messages on every subscribe, 1 only on a new subscription, 2 never', async () => {
    await (await v5()).c.publishAsync('survey/rh', 'kept', { qos: 1, retain: true });
    const count = async (rh: 0 | 1 | 2) => {
      const s = await v5();
      await s.c.subscribeAsync('survey/rh', { qos: 1, rh });
      await s.c.subscribeAsync('survey/rh', { qos: 1, rh }); // the same subscription again
      // A marker published after both SUBSCRIBEs arrives after any retained message they caused.
      await s.c.subscribeAsync('survey/rh-marker', { qos: 1 });
      await (await v5()).c.publishAsync('survey/rh-marker', 'm', { qos: 1 });
      await eventually(() => s.publishes().some((p) => p.topic === 'survey/rh-marker'));
      return s.publishes().filter((p) => p.topic === 'survey/rh').length;
    };
    expect([await count(0), await count(1), await count(2)]).toEqual([2, 1, 0]);
  });

  it('Session Expiry Interval: a session kept after disconnect is resumed with its queued QoS 1 messages', async () => {
    const opts = { clientId: 'survey-session', clean: false, properties: { sessionExpiryInterval: 60 } };
    const first = await v5(opts);
    await first.c.subscribeAsync('survey/session', { qos: 1 });
    await first.c.endAsync();
    await (await v5()).c.publishAsync('survey/session', 'queued', { qos: 1 });
    const got: string[] = [];
    let sessionPresent: boolean | undefined;
    rawV5(opts, (again) => {
      again.on('connect', (connack) => (sessionPresent = connack.sessionPresent));
      again.on('message', (_t, payload) => got.push(payload.toString()));
    });
    await eventually(() => got.length === 1);
    expect({ sessionPresent, got }).toEqual({ sessionPresent: true, got: ['queued'] });
  });

  it('Will Delay Interval: the will is published after the delay (and without the property, fixed in our layer)', async () => {
    const watcher = await v5();
    await watcher.c.subscribeAsync('survey/will-delay', { qos: 1 });
    const dying = await v5({ properties: { sessionExpiryInterval: 10 }, will: { topic: 'survey/will-delay', payload: Buffer.from('late'), qos: 1, retain: false, properties: { willDelayInterval: 1 } } });
    const lostAt = Date.now();
    dying.c.stream.destroy();
    const [m] = await eventually(() => (watcher.publishes().length > 0 ? watcher.publishes() : false), { timeoutMs: 5000 });
    expect(Date.now() - lostAt).toBeGreaterThanOrEqual(900);
    expect(m!.properties ?? {}).not.toHaveProperty('willDelayInterval');
  });

  it('Assigned Client Identifier: an empty client id gets one in the CONNACK', async () => {
    const connack = await connackOf({ clientId: '' });
    expect(connack.properties?.assignedClientIdentifier).toMatch(/^aedes_[0-9a-f-]{36}$/);
  });

  it('reason codes: SUBACK 0x87 for a refused filter, PUBACK 0x87 with a reason string for a refused publish, connection kept', async () => {
    const viewer = await fx.client('viewer', { protocolVersion: 5 });
    const granted = await viewer.subscribeAsync(['survey/#', '$SYS/#']).then(
      (g) => g.map((x) => x.qos),
      (err: { packet?: { granted: number[] } }) => err.packet?.granted,
    );
    expect(granted).toEqual([0, 0x87]);
    const refused = await viewer.publishAsync('survey/x', '1', { qos: 1 }).then(() => null, (err: { code?: number; message: string }) => err);
    expect(refused?.code).toBe(0x87);
    expect(viewer.connected).toBe(true);
  });
});

describe('MQTT 5 features that do not work (aedes 2.0.0-beta.1)', () => {
  it('shared subscriptions: CONNACK says unavailable and a $share filter gets SUBACK 0x9E', async () => {
    const { c } = await v5();
    expect((await connackOf()).properties?.sharedSubscriptionAvailable).toBe(false);
    const granted = await c.subscribeAsync('$share/group/survey/#').then(() => null, (err: { packet?: { granted: number[] } }) => err.packet?.granted);
    expect(granted).toEqual([0x9e]);
  });

  it("Receive Maximum: the broker sends more unacknowledged QoS 1 messages than the client's Receive Maximum of 1", async () => {
    // A hand-written client (mqtt.js would stop reading while it holds back an acknowledgement).
    const str = (t: string) => [0, Buffer.byteLength(t), ...Buffer.from(t)];
    const body = (b: number[]) => [b.length, ...b]; // remaining lengths below 128: one byte
    const socket = net.connect(fx.tcpPort, '127.0.0.1');
    raw.push({ endAsync: async () => void socket.destroy() } as unknown as MqttClient);
    const frames: number[] = [];
    let buf = Buffer.alloc(0);
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf[1]!) {
        frames.push(buf[0]! >> 4);
        buf = buf.subarray(2 + buf[1]!);
      }
    });
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(Buffer.from([
      0x10, ...body([
        ...str('MQTT'), 5, // protocol name, level 5
        0xc2, 0, 60, // flags: user name, password, clean start; keep alive 60 s
        3, 0x21, 0, 1, // properties: Receive Maximum = 1
        ...str('survey-rmax'), ...str('integration'), ...str(PASSWORDS.integration),
      ]),
    ]));
    await eventually(() => frames.includes(2)); // CONNACK
    socket.write(Buffer.from([0x82, ...body([0, 1, 0, ...str('survey/rmax'), 1])])); // SUBSCRIBE id 1, no properties, QoS 1
    await eventually(() => frames.includes(9)); // SUBACK
    const pub = await v5();
    for (let i = 0; i < 3; i++) await pub.c.publishAsync('survey/rmax', String(i), { qos: 1 });
    // Never acknowledged: a broker honouring Receive Maximum 1 would hold the second and third back.
    await eventually(() => frames.filter((f) => f === 3).length === 3);
    expect(frames.filter((f) => f === 3).length).toBeGreaterThan(1);
  });

  it("Maximum Packet Size: the broker sends a PUBLISH larger than the client's Maximum Packet Size, and mqtt.js drops the connection", async () => {
    const sub = await v5({ properties: { maximumPacketSize: 128 } });
    const errors: string[] = [];
    sub.c.on('error', (err) => errors.push(err.message));
    await sub.c.subscribeAsync('survey/big', { qos: 0 });
    await (await v5()).c.publishAsync('survey/big', 'x'.repeat(1000), { qos: 0 });
    await eventually(() => !sub.c.connected);
    expect(errors.join()).toMatch(/exceeding packets size publish: 1016 bytes, maximumPacketSize is 128/);
  });

  it('topic aliases: not offered (no Topic Alias Maximum in the CONNACK), and never used towards clients', async () => {
    const sub = await v5({ properties: { topicAliasMaximum: 10 } });
    expect((await connackOf()).properties?.topicAliasMaximum).toBeUndefined();
    await sub.c.subscribeAsync('survey/alias', { qos: 0 });
    const pub = await v5();
    for (let i = 0; i < 2; i++) await pub.c.publishAsync('survey/alias', String(i), { qos: 1 });
    await eventually(() => sub.publishes().length === 2);
    expect(sub.publishes().map((p) => [p.topic, p.properties?.topicAlias])).toEqual([['survey/alias', undefined], ['survey/alias', undefined]]);
  });

  it('enhanced authentication (AUTH): a CONNECT with an Authentication Method is refused with 0x8C', async () => {
    const code = await fx.client('integration', { protocolVersion: 5, properties: { authenticationMethod: 'SCRAM-SHA-1' } }).then(
      () => 0,
      (err: { code?: number }) => err.code,
    );
    expect(code).toBe(0x8c);
  });
});
