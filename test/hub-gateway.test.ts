import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CLOSE_CODES, encode } from '../protocol/index.js';
import type { CommandFrame, ErrorFrame } from '../protocol/types.js';
import { newDeviceCredentials } from '../hub/auth/device-tokens.js';
import { HubStore } from '../hub/storage/hub-store.js';
import { HUB_CLI } from './support/hub-process.js';
import type { Hub } from '../hub/hub.js';
import { RawDevice, type Refusal } from './support/raw-device.js';
import { hello } from './support/fixtures.js';
import { startHub } from './support/hub-harness.js';
import { sqliteNow } from '../hub/testing/sqlite-now.js';

let hub: Hub;
let wss: string;
let dataDir: string;
let stop: () => Promise<void>;
const tokens = new Map<string, string>();
const open: RawDevice[] = [];

function provision(id: string): string {
  const { token } = sqliteNow(hub.registry.provision(id, id, 'thermostat', Date.now()));
  tokens.set(id, token);
  return token;
}

async function greeted(id: string, lastAcked = 0) {
  const r = await RawDevice.greet(wss, id, tokens.get(id) ?? provision(id), hello(lastAcked));
  open.push(r.device);
  return r;
}

function storedCount(id: string, metric = 'temperature'): number {
  return hub.store.history({ deviceId: id, metric, from: 0, to: Date.now() + 120_000, step: 'raw', limit: 10_000 }).length;
}

beforeAll(async () => {
  const h = await startHub({ overrides: { 'devices.greetingTimeoutMs': 300, 'devices.maxFramesPerSecond': 50, 'devices.commandTimeoutMs': 60_000 } });
  hub = h.hub;
  dataDir = h.dataDir;
  wss = h.wssUrl;
  stop = h.stop;
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => (d.ws.readyState === d.ws.OPEN ? d.close() : d.closed)));
});

afterAll(async () => {
  await stop();
});

describe('upgrade: refused before a socket exists [FP-2.2] [FP-2.3]', () => {
  it('answers 401 HUB_ERR_UNKNOWN_DEVICE for a device that was never provisioned', async () => {
    const refusal = (await RawDevice.connect(wss, 'ghost', 'x').catch((e: Refusal) => e)) as Refusal;
    expect(refusal.status).toBe(401);
    expect(refusal.body.error).toBe('HUB_ERR_UNKNOWN_DEVICE');
    expect(hub.facade.hubInfo().devices).toMatchObject({ connections: 0 });
  });

  it('answers 401 HUB_ERR_BAD_TOKEN for a wrong or missing token', async () => {
    provision('auth-1');
    const wrong = (await RawDevice.connect(wss, 'auth-1', 'hd1_wrong').catch((e: Refusal) => e)) as Refusal;
    const missing = (await RawDevice.connect(wss, 'auth-1', null).catch((e: Refusal) => e)) as Refusal;
    expect([wrong.status, wrong.body.error]).toEqual([401, 'HUB_ERR_BAD_TOKEN']);
    expect([missing.status, missing.body.error]).toEqual([401, 'HUB_ERR_BAD_TOKEN']);
    expect(hub.facade.hubInfo().devices).toMatchObject({ connections: 0 });
  });

  it('[FP-2.2] checks the subprotocol before the token: neither gives 400, not 401', async () => {
    provision('auth-3');
    const refusal = (await RawDevice.connect(wss, 'auth-3', 'hd1_wrong', { protocol: null }).catch((e: Refusal) => e)) as Refusal;
    expect([refusal.status, refusal.body.error]).toEqual([400, 'HUB_ERR_SUBPROTOCOL']);
    const ghost = (await RawDevice.connect(wss, 'ghost-2', null, { protocol: 'hearth.v2' }).catch((e: Refusal) => e)) as Refusal;
    expect([ghost.status, ghost.body.error]).toEqual([400, 'HUB_ERR_SUBPROTOCOL']);
  });

  it('answers 400 HUB_ERR_SUBPROTOCOL when hearth.v1 is not offered', async () => {
    const token = provision('auth-2');
    const none = (await RawDevice.connect(wss, 'auth-2', token, { protocol: null }).catch((e: Refusal) => e)) as Refusal;
    const other = (await RawDevice.connect(wss, 'auth-2', token, { protocol: 'hearth.v9' }).catch((e: Refusal) => e)) as Refusal;
    expect([none.status, none.body.error]).toEqual([400, 'HUB_ERR_SUBPROTOCOL']);
    expect(other.body.message).toContain('hearth.v1');
    expect(other.body.message).toContain('hearth.v1.1');
  });
});

describe('session rules [FP-7]', () => {
  it('closes 4003 when the first frame is not HELLO', async () => {
    const device = await RawDevice.connect(wss, 'greet-1', provision('greet-1'));
    open.push(device);
    device.send({ type: 'telemetry', seq: 1, ts: Date.now(), readings: [{ metric: 1, value: { type: 'float', value: 20 } }] });
    const error = (await device.next('error')) as ErrorFrame;
    expect(error.code).toBe('HUB_ERR_GREETING_REQUIRED');
    expect((await device.closed).code).toBe(CLOSE_CODES.GREETING_REQUIRED);
  });

  it('closes 4004 when no HELLO arrives within the greeting timeout', async () => {
    const device = await RawDevice.connect(wss, 'greet-2', provision('greet-2'));
    open.push(device);
    expect(((await device.next('error')) as ErrorFrame).code).toBe('HUB_ERR_GREETING_TIMEOUT');
    expect((await device.closed).code).toBe(CLOSE_CODES.GREETING_TIMEOUT);
  });

  it('answers HELLO with WELCOME carrying hub time, limits and nextSeq 1 for a new device', async () => {
    const before = Date.now();
    const { welcome } = await greeted('greet-3');
    expect(welcome.nextSeq).toBe(1);
    expect(welcome.hubTime).toBeGreaterThanOrEqual(before);
    expect(welcome).toMatchObject({ maxFrameBytes: 65536, maxReadingsPerFrame: 64, maxFramesPerSecond: 50 });
  });

  it('closes 1002 on a second HELLO', async () => {
    const { device } = await greeted('greet-4');
    device.send({ type: 'hello', ...hello() });
    expect(((await device.next('error')) as ErrorFrame).code).toBe('HUB_ERR_UNEXPECTED_FRAME');
    expect((await device.closed).code).toBe(1002);
  });
});

describe('bad frames get ERROR and the spec close code, and never disturb another device', () => {
  const cases: [string, (d: RawDevice) => void, string, number][] = [
    ['text message', (d) => d.send('{"hello":1}'), 'HUB_ERR_TEXT_FRAME', 1003],
    ['bad version', (d) => d.send(Uint8Array.from([0x20, 0x05, 0x01])), 'PROTO_ERR_BAD_VERSION', 4001],
    ['unknown type', (d) => d.send(Uint8Array.from([0x10, 0x42])), 'PROTO_ERR_UNKNOWN_TYPE', 4002],
    ['truncated', (d) => d.send(Uint8Array.from([0x10, 0x03, 0x01])), 'PROTO_ERR_TRUNCATED', 1007],
    ['undeclared metric', (d) => d.send({ type: 'telemetry', seq: 1, ts: Date.now(), readings: [{ metric: 99, value: { type: 'float', value: 1 } }] }), 'HUB_ERR_CAPABILITY', 4005],
    ['wrong value type', (d) => d.send({ type: 'telemetry', seq: 1, ts: Date.now(), readings: [{ metric: 1, value: { type: 'int', value: 1 } }] }), 'HUB_ERR_CAPABILITY', 4005],
    ['out of declared range', (d) => d.send({ type: 'telemetry', seq: 1, ts: Date.now(), readings: [{ metric: 2, value: { type: 'float', value: 101 } }] }), 'HUB_ERR_CAPABILITY', 4005],
    ['event capability in telemetry', (d) => d.send({ type: 'telemetry', seq: 1, ts: Date.now(), readings: [{ metric: 4, value: { type: 'bool', value: true } }] }), 'HUB_ERR_CAPABILITY', 4005],
    ['hub-only frame', (d) => d.send({ type: 'ack', seq: 1 }), 'HUB_ERR_UNEXPECTED_FRAME', 1002],
  ];

  it.each(cases)('%s', async (_name, misbehave, code, closeCode) => {
    const { device: good } = await greeted(`good-${code}-${closeCode}-${_name.length}`);
    const { device: bad } = await greeted(`bad-${code}-${closeCode}-${_name.length}`);
    misbehave(bad);
    good.send({ type: 'telemetry', seq: 1, ts: Date.now(), readings: [{ metric: 1, value: { type: 'float', value: 21.5 } }] });
    expect(((await bad.next('error')) as ErrorFrame).code).toBe(code);
    expect((await bad.closed).code).toBe(closeCode);
    expect((await good.ackFor(1)).type).toBe('ack');
    expect(good.ws.readyState).toBe(good.ws.OPEN);
  });

  it('closes 1009 on a message larger than 65536 bytes', async () => {
    const { device } = await greeted('big-1');
    device.send(new Uint8Array(70_000));
    expect((await device.closed).code).toBe(1009);
  });

  it('closes 4008 when a device exceeds its frame rate [FP-9.2]', async () => {
    const { device } = await greeted('rate-1');
    for (let seq = 1; seq <= 200; seq++) {
      device.send({ type: 'telemetry', seq, ts: Date.now(), readings: [{ metric: 1, value: { type: 'float', value: seq } }] });
    }
    expect(((await device.next('error')) as ErrorFrame).code).toBe('HUB_ERR_RATE_LIMITED');
    expect((await device.closed).code).toBe(CLOSE_CODES.RATE_LIMITED);
  });
});

describe('delivery: ACK after commit, resend stored once [FP-8]', () => {
  it('acknowledges telemetry and stores each reading', async () => {
    const { device } = await greeted('deliv-1');
    for (let seq = 1; seq <= 5; seq++) {
      device.send({ type: 'telemetry', seq, ts: Date.now(), readings: [{ metric: 1, value: { type: 'float', value: 20 + seq } }] });
    }
    expect((await device.ackFor(5)).type).toBe('ack');
    expect(storedCount('deliv-1')).toBe(5);
  });

  it('stores a frame resent after a reconnect exactly once and tells the device where to resume', async () => {
    const first = await greeted('deliv-2');
    for (let seq = 1; seq <= 3; seq++) {
      first.device.send({ type: 'telemetry', seq, ts: 1_700_000_000_000 + seq, readings: [{ metric: 1, value: { type: 'float', value: seq } }] });
    }
    await first.device.ackFor(3);
    await first.device.close();
    // The device missed the ACK of 2 and 3 (as after a dropped connection) and resends them.
    const second = await greeted('deliv-2', 1);
    expect(second.welcome.nextSeq).toBe(4);
    for (const seq of [2, 3, 4]) {
      second.device.send({ type: 'telemetry', seq, ts: 1_700_000_000_000 + seq, readings: [{ metric: 1, value: { type: 'float', value: seq } }], resend: seq < 4 });
    }
    expect(((await second.device.ackFor(4)) as { seq: number }).seq).toBe(4);
    expect(storedCount('deliv-2')).toBe(4);
    expect(hub.ingest.stats.duplicates).toBeGreaterThanOrEqual(2);
  });

  it('stores BATCH samples with their own timestamps and EVENT frames', async () => {
    const { device } = await greeted('deliv-3');
    const t0 = 1_700_000_000_000;
    device.send({ type: 'batch', seq: 1, samples: [0, 1, 2].map((i) => ({ ts: t0 + i * 1000, metric: 1, value: { type: 'float' as const, value: i } })) });
    device.send({ type: 'event', seq: 2, ts: t0 + 5000, metric: 4, value: { type: 'bool', value: true } });
    await device.ackFor(2);
    const points = hub.store.history({ deviceId: 'deliv-3', metric: 'temperature', from: t0, to: t0 + 10_000, step: 'raw', limit: 10 });
    expect(points.map((p) => [p.ts, p.value])).toEqual([[t0, 0], [t0 + 1000, 1], [t0 + 2000, 2]]);
    expect(hub.store.events('deliv-3', t0, t0 + 10_000, 10).map((e) => e.name)).toEqual(['motion']);
  });

  it('stamps readings of a device without a clock (ts 0) with hub time', async () => {
    const { device } = await greeted('deliv-4');
    const before = Date.now();
    device.send({ type: 'telemetry', seq: 1, ts: 0, readings: [{ metric: 1, value: { type: 'float', value: 1 } }] });
    await device.ackFor(1);
    const [point] = hub.store.history({ deviceId: 'deliv-4', metric: 'temperature', from: 0, to: Date.now() + 1, step: 'raw', limit: 10 });
    expect(point!.ts).toBeGreaterThanOrEqual(before);
  });
});

describe('one live connection per device, revocation [FP-10.3]', () => {
  it('closes the older connection with 4009 when the device connects again', async () => {
    const first = await greeted('dup-1');
    const second = await greeted('dup-1');
    expect(((await first.device.next('error')) as ErrorFrame).code).toBe('HUB_ERR_REPLACED');
    expect((await first.device.closed).code).toBe(CLOSE_CODES.REPLACED);
    second.device.send({ type: 'telemetry', seq: 1, ts: Date.now(), readings: [{ metric: 1, value: { type: 'float', value: 1 } }] });
    expect((await second.device.ackFor(1)).type).toBe('ack');
    expect(hub.facade.device('dup-1')?.online).toBe(true);
  });

  it('disconnects a revoked device at once with 4010 and refuses it afterwards', async () => {
    const { device } = await greeted('rev-1');
    hub.registry.revoke('rev-1', Date.now());
    expect((await device.closed).code).toBe(CLOSE_CODES.REVOKED);
    const refusal = (await RawDevice.connect(wss, 'rev-1', tokens.get('rev-1')!).catch((e: Refusal) => e)) as Refusal;
    expect(refusal.status).toBe(401);
  });
});

describe('protocol 1.1 settlements [FP-2.2] [FP-2.3] [FP-6.2] [FP-7.5] [FP-7.7] [FP-10.5]', () => {
  it('[FP-2.3] accepts a device another process just added to the database, with no wait for the CLI watch', async () => {
    // Another connection writes the device, as `hearth device add` does; the check runs in the same tick,
    // so the once-a-second CLI change watch cannot have seen it.
    const cli = new HubStore({ path: join(dataDir, 'hearth.db') });
    cli.open();
    const { record, token } = newDeviceCredentials('late-1', 'late', 'thermostat', Date.now());
    cli.addDevice(record);
    cli.close();
    expect(hub.auth.authenticateDevice('late-1', token)).toEqual({ ok: true });
    expect(hub.facade.device('late-1')?.id).toBe('late-1');
  });

  it('[FP-2.3] a device added by `hearth device add` connects on its first attempt', async () => {
    const added = spawnSync(process.execPath, [HUB_CLI, 'device', 'add', 'late-2', '--data-dir', dataDir], { encoding: 'utf8', timeout: 20_000 });
    expect(added.status).toBe(0);
    const token = added.stdout.trim().split('\n').pop()!;
    const r = await RawDevice.greet(wss, 'late-2', token, hello());
    open.push(r.device);
    expect(r.welcome.nextSeq).toBe(1);
  });

  it('[FP-2.2][FP-6.2] selects hearth.v1.1 when offered and then tells the command answer time in WELCOME', async () => {
    const token = provision('v11-1');
    const v11 = await RawDevice.connect(wss, 'v11-1', token, { protocol: 'hearth.v1.1' });
    open.push(v11);
    expect(v11.ws.protocol).toBe('hearth.v1.1');
    v11.send({ type: 'hello', ...hello() });
    expect(await v11.next('welcome')).toMatchObject({ commandTimeoutMs: 60_000 });
    await v11.close();
    const { device, welcome } = await greeted('v11-1');
    expect(device.ws.protocol).toBe('hearth.v1');
    expect(welcome).not.toHaveProperty('commandTimeoutMs');
  });

  it('[FP-7.7] answers a command not answered when the connection ends, long before its timeout', async () => {
    const { device } = await greeted('cmd-1');
    const started = Date.now();
    const outcome = hub.facade.sendCommand('cmd-1', 'mode', 'heat', 'test');
    const command = (await device.next('command')) as CommandFrame;
    expect(command).toMatchObject({ metric: 5, value: { type: 'enum', value: 1 } });
    await device.close();
    expect(await outcome).toMatchObject({ commandId: command.id, status: 'offline', message: 'the connection ended before the device answered' });
    // The timeout is 60 s: an answer this early can only come from the connection's end.
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('[FP-7.5] acknowledges every frame before a refused one, so the refused one is the oldest unacknowledged', async () => {
    const { device } = await greeted('cap-1');
    for (let seq = 1; seq <= 3; seq++) device.send({ type: 'telemetry', seq, ts: Date.now(), readings: [{ metric: 1, value: { type: 'float', value: seq } }] });
    device.send({ type: 'telemetry', seq: 4, ts: Date.now(), readings: [{ metric: 2, value: { type: 'float', value: 101 } }] });
    const error = (await device.next('error')) as ErrorFrame;
    expect(error.code).toBe('HUB_ERR_CAPABILITY');
    const acks = device.frames.filter((f) => f.type === 'ack');
    expect(acks.at(-1)).toEqual({ type: 'ack', seq: 3 });
    expect(device.frames.indexOf(acks.at(-1)!)).toBeLessThan(device.frames.indexOf(error));
    expect((await device.closed).code).toBe(CLOSE_CODES.CAPABILITY_VIOLATION);
    expect(storedCount('cap-1')).toBe(3);
  });

  it('[FP-10.5] sends ERROR HUB_ERR_SHUTDOWN, then closes with 1001, when the hub stops', async () => {
    const h = await startHub();
    const { token } = sqliteNow(h.hub.registry.provision('bye-1', 'bye', 'thermostat', Date.now()));
    const { device } = await RawDevice.greet(h.wssUrl, 'bye-1', token, hello());
    await h.stop();
    expect((await device.closed).code).toBe(CLOSE_CODES.GOING_AWAY);
    expect(device.frames.at(-1)).toEqual({ type: 'error', code: 'HUB_ERR_SHUTDOWN', message: 'hub shutting down' });
  });
});

describe('encode sanity', () => {
  it('a 2-float TELEMETRY from a live device is at most 24 bytes', () => {
    const bytes = encode({ type: 'telemetry', seq: 1000, ts: Date.now(), readings: [{ metric: 1, value: { type: 'float', value: 21.5 } }, { metric: 2, value: { type: 'float', value: 40.25 } }] });
    expect(bytes.length).toBeLessThanOrEqual(24);
  });
});
