import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt from 'mqtt';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import WebSocket from 'ws';
import { eventually } from './support/eventually.js';
import { call } from './support/http.js';
import { PASSWORDS, startHostileHub, type HostileHub } from './support/hostile-hub.js';
import { connectPacket, publishPacket, RawMqtt, remainingLength } from './support/raw-mqtt.js';

// Issue #11 §3: each attack is sent at a real hub; each test asserts the broker's answer and that the
// bystanders (a device's ACKs and values, an MQTT client's messages) are still served meanwhile.

const CONNECT_TIMEOUT_MS = 1500;
let h: HostileHub;

beforeAll(async () => {
  h = await startHostileHub({ 'mqtt.connectTimeoutMs': CONNECT_TIMEOUT_MS, 'mqtt.maxConnectionsPerAddress': 5, 'mqtt.maxPacketBytes': 64 * 1024 });
});

afterAll(async () => {
  await h.stop();
});

/** The property of id `id` (a four-byte integer) in a v5 CONNACK body, or undefined. */
function connackProperty32(body: Buffer, id: number): number | undefined {
  // flags, reason code, property length (one byte here: the broker sends few properties), properties
  const end = 3 + body[2]!;
  for (let i = 3; i < end; ) {
    const pid = body[i]!;
    if (pid === id) return body.readUInt32BE(i + 1);
    // ids the hub sends: 0x24/0x25/0x28/0x29/0x2A one byte, 0x21/0x22 two, 0x27/0x11 four
    i += 1 + ({ 0x21: 2, 0x22: 2, 0x27: 4, 0x11: 4 }[pid] ?? 1);
  }
  return undefined;
}

describe('before CONNECT is accepted', () => {
  it('a CONNECT declaring 200 MiB is refused at its fixed header: closed after 5 bytes, nothing buffered', async () => {
    const before = h.refused('pre_connect_too_large');
    const attackers = await Promise.all(Array.from({ length: 6 }, () => RawMqtt.open(h.tcpPort)));
    for (const a of attackers) a.write(Buffer.concat([Buffer.from([0x10]), remainingLength(200 * 1024 * 1024), Buffer.from('\x00\x04MQTT')]));
    await Promise.all(attackers.map((a) => a.closed));
    expect(h.refused('pre_connect_too_large')).toBe(before + 6);
    const line = h.logged('HUB_ERR_MQTT_PACKET_TOO_LARGE')[0]!;
    expect(line).toMatchObject({ limit: 16 * 1024 });
    expect(line['size']).toBeGreaterThan(200 * 1024 * 1024);
    await h.stillWorks();
  });

  it('over the /mqtt WebSocket too: a CONNECT declaring 200 MiB closes the socket', async () => {
    const before = h.refused('pre_connect_too_large');
    const ws = new WebSocket(`${h.wssUrl}/mqtt`, ['mqtt'], { rejectUnauthorized: false });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    ws.send(Buffer.concat([Buffer.from([0x10]), remainingLength(200 * 1024 * 1024), Buffer.from('\x00\x04MQTT')]));
    await closed;
    expect(h.refused('pre_connect_too_large')).toBe(before + 1);
    await h.stillWorks();
  });

  it('a client streaming more than mqtt.preConnectMaxBytes before its CONNECT completes is closed', async () => {
    const before = h.refused('pre_connect_too_large');
    const a = await RawMqtt.open(h.tcpPort);
    // A header declaring 60 KiB (under mqtt.maxPacketBytes, over the pre-CONNECT limit), then the bytes.
    a.write(Buffer.concat([Buffer.from([0x10]), remainingLength(60 * 1024)]));
    for (let i = 0; i < 60 && a.write(Buffer.alloc(1024, 0x41)); i++);
    await a.closed;
    expect(h.refused('pre_connect_too_large')).toBe(before + 1);
    await h.stillWorks();
  });

  it('a socket that sends no complete CONNECT is closed after mqtt.connectTimeoutMs (slowloris included)', async () => {
    const before = h.refused('connect_timeout');
    const silent = await RawMqtt.open(h.tcpPort);
    const slow = await RawMqtt.open(h.tcpPort);
    const whole = connectPacket({ clientId: 'slow', username: 'viewer', password: PASSWORDS.viewer });
    let sent = 0;
    // One byte at a time, never completing the CONNECT before the deadline.
    const drip = setInterval(() => sent < whole.length - 1 && slow.write(whole.subarray(sent, ++sent)), 200);
    const started = Date.now();
    await Promise.all([silent.closed, slow.closed]);
    clearInterval(drip);
    expect(Date.now() - started).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 100);
    await eventually(() => h.refused('connect_timeout') === before + 2);
    expect(h.logged('HUB_ERR_MQTT_CONNECT_TIMEOUT').length).toBeGreaterThanOrEqual(1);
    await h.stillWorks();
  });

  it('a socket idle before its TLS handshake is closed after mqtt.connectTimeoutMs', async () => {
    const before = h.refused('handshake_timeout');
    const socket = net.connect({ port: h.tlsPort, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await eventually(() => h.refused('handshake_timeout') === before + 1);
    // A real TLS client on that listener is served.
    const ok = await mqtt.connectAsync(`mqtts://127.0.0.1:${h.tlsPort}`, { username: 'viewer', password: PASSWORDS.viewer, rejectUnauthorized: false, reconnectPeriod: 0 });
    await ok.endAsync();
    await h.stillWorks();
  });

  it('a sixth connection from one address is refused at accept; other addresses are not affected', async () => {
    const before = h.refused('per_address');
    const held = await Promise.all(Array.from({ length: 5 }, () => RawMqtt.open(h.tcpPort, '127.0.0.2')));
    for (const [i, c] of held.entries()) c.write(connectPacket({ clientId: `held-${i}`, username: 'viewer', password: PASSWORDS.viewer }));
    expect(await Promise.all(held.map((c) => c.connack()))).toEqual([0, 0, 0, 0, 0]);
    const sixth = await RawMqtt.open(h.tcpPort, '127.0.0.2');
    await sixth.closed;
    expect(h.refused('per_address')).toBe(before + 1);
    // TLS shares the cap: the address is still full.
    const overTls = net.connect({ port: h.tlsPort, host: '127.0.0.1', localAddress: '127.0.0.2' });
    overTls.on('error', () => undefined);
    overTls.on('connect', () => tls.connect({ socket: overTls, rejectUnauthorized: false }).on('error', () => undefined));
    await new Promise<void>((resolve) => overTls.once('close', () => resolve()));
    expect(h.refused('per_address')).toBe(before + 2);
    const other = await RawMqtt.open(h.tcpPort, '127.0.0.3');
    other.write(connectPacket({ clientId: 'other', username: 'viewer', password: PASSWORDS.viewer }));
    expect(await other.connack()).toBe(0);
    other.end();
    await h.stillWorks();
    // Once one of them leaves, the address may connect again.
    held[0]!.end();
    await eventually(async () => {
      const again = await RawMqtt.open(h.tcpPort, '127.0.0.2');
      again.write(connectPacket({ clientId: 'again', username: 'viewer', password: PASSWORDS.viewer }));
      const code = await again.connack();
      again.end();
      return code === 0;
    });
    for (const c of held) c.end();
  });
});

describe('after CONNECT', () => {
  it('the v5 CONNACK advertises Maximum Packet Size, and a larger packet gets DISCONNECT 0x95', async () => {
    const before = h.refused('packet_too_large');
    const c = await RawMqtt.open(h.tcpPort);
    c.write(connectPacket({ clientId: 'big-v5', version: 5, username: 'ha', password: PASSWORDS.ha }));
    const connack = (await c.next(2))!;
    expect(connack.body[1]).toBe(0);
    expect(connackProperty32(connack.body, 0x27)).toBe(64 * 1024);
    c.write(Buffer.concat([Buffer.from([0x30]), remainingLength(65 * 1024), Buffer.from('\x00\x05a/b/c\x00')]));
    const disconnect = await c.next(14);
    expect(disconnect?.body[0]).toBe(0x95);
    await c.closed;
    expect(h.refused('packet_too_large')).toBe(before + 1);
    await h.stillWorks();
  });

  it('a 3.1.1 client sending a packet over mqtt.maxPacketBytes is closed; one at the limit is routed', async () => {
    const c = await RawMqtt.open(h.tcpPort);
    c.write(connectPacket({ clientId: 'big-v4', username: 'ha', password: PASSWORDS.ha }));
    expect(await c.connack()).toBe(0);
    // The largest packet allowed, 64 KiB on the wire: a command to an unknown device, which the ACL lets
    // an integration publish (the hub answers it on the result topic).
    const topic = 'hearth/nobody/set/setpoint';
    const header = 1 + 3; // type byte and a three-byte Remaining Length
    const payload = Buffer.alloc(64 * 1024 - header - 2 - topic.length, 0x31);
    const atLimit = publishPacket(topic, payload);
    expect(atLimit.length).toBe(64 * 1024);
    const before = h.refused('packet_too_large');
    c.write(atLimit);
    c.write(Buffer.from([0xc0, 0x00])); // PINGREQ: answered only if the connection survived the packet
    expect((await c.next(13))?.type).toBe(13);
    c.write(publishPacket(topic, Buffer.alloc(64 * 1024, 0x31)));
    await c.closed;
    expect(h.refused('packet_too_large')).toBe(before + 1);
    await h.stillWorks();
  });

  it('MQTT over WebSocket refuses a message over mqtt.maxPacketBytes (ws maxPayload) and keeps serving', async () => {
    const big = await mqtt.connectAsync(`${h.wssUrl}/mqtt`, { username: 'ha', password: PASSWORDS.ha, rejectUnauthorized: false, reconnectPeriod: 0 });
    const closed = new Promise<void>((resolve) => big.once('close', () => resolve()));
    big.publish('hearth/nobody/set/setpoint', Buffer.alloc(80 * 1024, 0x31));
    await closed;
    const ok = await mqtt.connectAsync(`${h.wssUrl}/mqtt`, { username: 'viewer', password: PASSWORDS.viewer, rejectUnauthorized: false, reconnectPeriod: 0 });
    expect(ok.connected).toBe(true);
    await ok.endAsync();
    big.end(true);
    await h.stillWorks();
  });
});

describe('password guessing', () => {
  it('is throttled per address and per user: 10 failures a minute, then CONNACK 5 (v5 0x9F) unchecked', async () => {
    const guess = async (from: string, user: string, password: string, version: 4 | 5 = 4) => {
      const c = await RawMqtt.open(h.tcpPort, from);
      c.write(connectPacket({ clientId: `guess-${Math.random()}`, version, username: user, password }));
      const code = await c.connack();
      c.end();
      return code;
    };
    const before = h.refused('throttled');
    const answers: (number | null)[] = [];
    for (let i = 0; i < 10; i++) answers.push(await guess('127.0.0.4', 'victim', `wrong-${i}`));
    expect(answers).toEqual(Array(10).fill(4));
    // The 11th from that address, even with the right password, is not checked.
    expect(await guess('127.0.0.4', 'victim', PASSWORDS.victim)).toBe(5);
    expect(await guess('127.0.0.4', 'viewer', PASSWORDS.viewer, 5)).toBe(0x9f);
    // The user is blocked from every address too; other users and addresses are not.
    expect(await guess('127.0.0.5', 'victim', PASSWORDS.victim, 5)).toBe(0x9f);
    expect(await guess('127.0.0.5', 'viewer', PASSWORDS.viewer)).toBe(0);
    expect(h.refused('throttled')).toBe(before + 3);
    // Logged at a bounded rate: one line for the ten failures (the window is 10 s), one for the throttling.
    expect(h.logged('HUB_ERR_MQTT_BAD_CREDENTIALS').length).toBe(1);
    expect(h.logged('HUB_ERR_MQTT_THROTTLED').length).toBe(1);
    await h.stillWorks();
  });
});

describe('password guessing over /mqtt', () => {
  it('is throttled by the same policy (it let 26 guesses a second through before)', async () => {
    await h.hub.auth.users.add('ws-target', 'ws-target-pass', 'viewer');
    const guess = async (password: string): Promise<number | undefined> => {
      const ws = new WebSocket(`${h.wssUrl}/mqtt`, ['mqtt'], { rejectUnauthorized: false, localAddress: '127.0.0.6' });
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      const answer = new Promise<number | undefined>((resolve) => {
        ws.once('message', (data: Buffer) => resolve(data[0] === 0x20 ? data[3] : undefined));
        ws.once('close', () => resolve(undefined));
      });
      ws.send(connectPacket({ clientId: `ws-guess-${Math.random()}`, username: 'ws-target', password }));
      const code = await answer;
      ws.terminate();
      return code;
    };
    const answers: (number | undefined)[] = [];
    for (let i = 0; i < 11; i++) answers.push(await guess(`wrong-${i}`));
    expect(answers).toEqual([...Array(10).fill(4), 5]);
    expect(await guess('ws-target-pass')).toBe(5); // the right password too, until the minute is over
    await h.stillWorks();
  });
});

describe('/metrics', () => {
  it('counts the refusals by reason in hearth_mqtt_refused_total', async () => {
    const res = await call(h.hub.url.replace('localhost', '127.0.0.1'), readFileSync(h.hub.tls.certPath, 'utf8'), 'GET', '/metrics');
    expect(res.status).toBe(200);
    for (const reason of ['pre_connect_too_large', 'connect_timeout', 'handshake_timeout', 'per_address', 'packet_too_large', 'throttled', 'bad_credentials']) {
      expect({ reason, counted: new RegExp(`^hearth_mqtt_refused_total\\{reason="${reason}"\\} ${h.refused(reason)}$`, 'm').test(res.body as string) }).toEqual({ reason, counted: true });
    }
    await h.stillWorks();
  });
});
