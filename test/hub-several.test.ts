// Several hubs on one PostgreSQL database (issue #16 section 2), in-process on a throwaway cluster: the
// handover of a device between hubs without a frame on the old connection, every hub showing every device
// with its holder, commands sent on one hub to a device connected to another, and a hub that stops.
// The 3-hub SIGKILL and partition test with Mosquitto is hub-scale-out.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from '@jest/globals';
import mqtt from 'mqtt';
import { freePort, mosquittoGate, MosquittoServer } from '../hub/mqtt/testing/mqtt-test-kit.js';
import type { CommandFrame } from '../protocol/types.js';
import { describePg } from '../hub/storage/testing/pg-cluster.js';
import { eventually } from './support/eventually.js';
import { hello } from './support/fixtures.js';
import { startHub } from './support/hub-harness.js';
import { call } from './support/http.js';
import { RawDevice } from './support/raw-device.js';
import { sql } from '../hub/storage/testing/pg-sql.js';

type Harness = Awaited<ReturnType<typeof startHub>>;
const running: Harness[] = [];
afterAll(() => Promise.all(running.splice(0).map((h) => h.stop())));

async function hubOn(url: string, id: string, overrides: Record<string, unknown> = {}): Promise<Harness & { api: (method: string, path: string, body?: unknown) => ReturnType<typeof call> }> {
  const h = await startHub({ overrides: { 'db.url': url, 'hub.id': id, 'devices.commandTimeoutMs': 3000, ...overrides } });
  running.push(h);
  const base = `https://127.0.0.1:${h.hub.port}`;
  return { ...h, api: (method, path, body) => call(base, h.hub.tls.cert, method, path, { token: h.hub.adminToken, body }) };
}

describePg('several hubs on one database', (cluster) => {
  it('hands an idle device over: the old hub closes its connection (4009) on the new claim alone', async () => {
    const url = await cluster().createDatabase('handover');
    const [a, b] = [await hubOn(url, 'hub-a'), await hubOn(url, 'hub-b')];
    const created = await a.api('POST', '/api/devices', { id: 'idle-1' });
    const token = created.body.token as string;
    const onA = (await RawDevice.greet(a.wssUrl, 'idle-1', token, hello())).device;
    // Nothing is sent on A's connection from here on: only B's claim can end it.
    const started = performance.now();
    const onB = (await RawDevice.greet(b.wssUrl, 'idle-1', token, hello())).device;
    const closed = await onA.closed;
    const handoverMs = performance.now() - started;
    expect(closed.code).toBe(4009);
    expect(onA.frames.find((f) => f.type === 'error')).toMatchObject({ code: 'HUB_ERR_REPLACED', message: 'hub hub-b holds this device now' });
    expect(a.logs.some((l) => l.includes('another hub claimed this device; closing') && l.includes('"holder":"hub-b"'))).toBe(true);
    expect(await sql(url, "SELECT hub_id, epoch::int AS epoch, connected FROM device_owner WHERE device_id = 'idle-1'")).toEqual([{ hub_id: 'hub-b', epoch: 2, connected: true }]);
    // B keeps the device: A's closing its old connection does not mark it disconnected.
    await eventually(async () => expect((await a.api('GET', '/api/devices/idle-1')).body.device).toMatchObject({ online: true, hub: 'hub-b' }));
    process.stdout.write(`handover: hub-a closed the old connection ${handoverMs.toFixed(0)} ms after the device greeted hub-b\n`);
    await onB.close();
  }, 60_000);

  it('shows every device on every hub with its holder, and sends a command on one hub to a device connected to another', async () => {
    const url = await cluster().createDatabase('commands');
    const [a, b] = [await hubOn(url, 'hub-a'), await hubOn(url, 'hub-b')];
    const created = await a.api('POST', '/api/devices', { id: 'far-1', name: 'Far' });
    const onB = (await RawDevice.greet(b.wssUrl, 'far-1', created.body.token as string, hello())).device;
    await eventually(async () => expect((await a.api('GET', '/api/devices')).body.devices).toMatchObject([{ id: 'far-1', online: true, hub: 'hub-b' }]));
    expect((await b.api('GET', '/api/devices/far-1')).body.device).toMatchObject({ online: true, hub: 'hub-b' });
    // Its readings, committed by B, show in A's state too (A re-reads other hubs' devices' latest values).
    onB.send({ type: 'telemetry', seq: 1, ts: Date.now(), readings: [{ metric: 1, value: { type: 'float', value: 23.5 } }] });
    await onB.ackFor(1);
    await eventually(async () => expect((await a.api('GET', '/api/devices/far-1')).body.device.state).toMatchObject({ temperature: { value: 23.5 } }), 15_000);

    // Sent on A, delivered by B, answered on A with the device's result.
    const pending = a.api('POST', '/api/devices/far-1/commands', { command: 'setpoint', value: 19.5 });
    const command = (await onB.next('command')) as CommandFrame;
    expect(command).toMatchObject({ metric: 3, value: { type: 'float', value: 19.5 } });
    onB.send({ type: 'command_result', id: command.id, status: 'ok', message: 'set on the far side' });
    const done = await pending;
    expect([done.status, done.body]).toEqual([200, expect.objectContaining({ status: 'ok', message: 'set on the far side' })]);
    await eventually(async () =>
      expect(await sql(url, 'SELECT id::int AS id, status, message FROM commands')).toEqual([{ id: command.id, status: 'ok', message: 'set on the far side' }]),
    );
    // A device that does not answer: the holder times it out and the sender hears that.
    const silent = await a.api('POST', '/api/devices/far-1/commands', { command: 'setpoint', value: 20 });
    expect(silent.body).toMatchObject({ status: 'timeout' });

    // The device goes away: every hub shows it offline, with no holder, and a command is answered offline.
    await onB.close();
    await eventually(async () => expect((await a.api('GET', '/api/devices/far-1')).body.device).toMatchObject({ online: false, hub: null }));
    expect((await sql(url, "SELECT connected FROM device_owner WHERE device_id = 'far-1'"))[0]).toEqual({ connected: false });
    expect((await a.api('POST', '/api/devices/far-1/commands', { command: 'setpoint', value: 21 })).body).toMatchObject({ status: 'offline' });
  }, 60_000);

  it('a hub that stops marks its devices not connected and itself stopped; the others show them offline', async () => {
    const url = await cluster().createDatabase('stop');
    const [a, b] = [await hubOn(url, 'hub-a'), await hubOn(url, 'hub-b')];
    const created = await a.api('POST', '/api/devices', { id: 'left-1' });
    const onB = (await RawDevice.greet(b.wssUrl, 'left-1', created.body.token as string, hello())).device;
    await eventually(async () => expect((await a.api('GET', '/api/devices/left-1')).body.device).toMatchObject({ online: true, hub: 'hub-b' }));
    await b.stop();
    running.splice(running.indexOf(b), 1);
    expect((await onB.closed).code).toBe(1001);
    expect(await sql(url, "SELECT id, stopped FROM hubs ORDER BY id")).toEqual([{ id: 'hub-a', stopped: false }, { id: 'hub-b', stopped: true }]);
    await eventually(async () => expect((await a.api('GET', '/api/devices/left-1')).body.device).toMatchObject({ online: false, hub: null }));
    expect((await a.api('GET', '/api/hub')).body.hubs).toEqual([expect.objectContaining({ id: 'hub-a', alive: true }), expect.objectContaining({ id: 'hub-b', alive: false })]);
  }, 60_000);

  const withMosquitto = mosquittoGate() === 'run' ? it : it.skip;
  withMosquitto('on one Mosquitto: a client, will and canary per hub, and each hub relays the others\' devices into its embedded broker', async () => {
    const url = await cluster().createDatabase('mqtt');
    const dir = mkdtempSync(join(tmpdir(), 'hearth-several-mosq-'));
    const broker = new MosquittoServer(dir, await freePort());
    broker.configure({ hearth: 'several-secret' });
    await broker.start();
    try {
      const mqttSettings = {
        'mqtt.url': `mqtt://127.0.0.1:${broker.port}`, 'mqtt.username': 'hearth', 'mqtt.password': 'several-secret',
        'mqtt.embedded': true, 'mqtt.port': 0, 'mqtt.allowAnonymous': true,
      };
      const [a, b] = [await hubOn(url, 'hub-a', mqttSettings), await hubOn(url, 'hub-b', mqttSettings)];
      const outside = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { username: 'hearth', password: 'several-secret', protocolVersion: 5 });
      const onBroker = new Map<string, string>();
      outside.on('message', (topic, payload) => onBroker.set(topic, payload.toString()));
      await outside.subscribeAsync(['hearth/bridge/#', 'hearth/+/availability']);
      // Both hubs stay connected side by side (one client id each), each with its own state topic and canary.
      await eventually(() => expect([onBroker.get('hearth/bridge/hubs/hub-a/state'), onBroker.get('hearth/bridge/hubs/hub-b/state')]).toEqual(['online', 'online']));
      expect(onBroker.has('hearth/bridge/hubs/hub-a/canary') && onBroker.has('hearth/bridge/hubs/hub-b/canary')).toBe(true);

      // A device on B; a client of A's embedded broker sees its state and availability (relayed by A).
      const created = await a.api('POST', '/api/devices', { id: 'relayed-1' });
      const local = await mqtt.connectAsync(`mqtt://127.0.0.1:${(a.hub.mqtt!.addresses().tcp as { port: number }).port}`, { protocolVersion: 5 });
      const onA = new Map<string, string>();
      local.on('message', (topic, payload) => onA.set(topic, payload.toString()));
      await local.subscribeAsync('hearth/relayed-1/#');
      const device = (await RawDevice.greet(b.wssUrl, 'relayed-1', created.body.token as string, hello())).device;
      device.send({ type: 'telemetry', seq: 1, ts: Date.now(), readings: [{ metric: 1, value: { type: 'float', value: 21.25 } }] });
      await device.ackFor(1);
      await eventually(() => expect(JSON.parse(onA.get('hearth/relayed-1/state') ?? '{}')).toMatchObject({ temperature: { value: 21.25 } }));
      expect(onA.get('hearth/relayed-1/availability')).toBe('online');
      expect(onBroker.get('hearth/relayed-1/availability')).toBe('online');

      // A command published on the shared broker is taken by one hub (a shared subscription) and answered once.
      const results: string[] = [];
      outside.on('message', (topic, payload) => topic === 'hearth/relayed-1/set/setpoint/result' && results.push(payload.toString()));
      await outside.subscribeAsync('hearth/relayed-1/set/setpoint/result');
      await outside.publishAsync('hearth/relayed-1/set/setpoint', '19');
      const command = (await device.next('command')) as CommandFrame;
      device.send({ type: 'command_result', id: command.id, status: 'ok', message: '' });
      await eventually(() => expect(results).toHaveLength(1));
      expect(JSON.parse(results[0]!)).toMatchObject({ status: 'ok' });
      expect(await sql(url, 'SELECT count(*)::int AS n FROM commands')).toEqual([{ n: 1 }]);

      // B stops: its own state goes offline; the installation's stays online while A runs.
      await device.close();
      await b.stop();
      running.splice(running.indexOf(b), 1);
      await eventually(() => expect(onBroker.get('hearth/bridge/hubs/hub-b/state')).toBe('offline'));
      expect(onBroker.get('hearth/bridge/state')).toBe('online');
      expect(onBroker.get('hearth/relayed-1/availability')).toBe('offline');
      await Promise.all([outside.endAsync(), local.endAsync()]);
    } finally {
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
