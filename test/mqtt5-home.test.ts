// One broker for the whole home (issue #11 §2): other integrations share the embedded broker outside the
// hub's namespace, the namespace stays the hub's, an ACL file in Mosquitto's format refines the roles, a
// session goes only to its own user, and other integrations' retained messages survive a restart.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { IClientOptions, IPublishPacket, MqttClient } from 'mqtt';
import { BridgeFixture, type TestUser } from '../hub/mqtt/testing/bridge-fixture.js';
import { record, waitForMessage } from '../hub/mqtt/testing/mqtt-test-kit.js';
import { SAMPLE_CAPS as C, device } from '../hub/mqtt/testing/sample-devices.js';
import { eventually } from './support/eventually.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-mqtt5-home-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The error code a refused connect gets (0 when it connects). */
const refusal = (fx: BridgeFixture, user: TestUser, opts: IClientOptions) =>
  fx.client(user, opts).then(() => 0, (err: { code?: number }) => err.code);

/** SUBACK codes of one SUBSCRIBE (mqtt.js rejects when one is a failure; the SUBACK rides on the error). */
const suback = (c: MqttClient, filters: string[]) =>
  c.subscribeAsync(filters).then(
    (g) => g.map((x) => x.qos),
    (err: { packet?: { granted: number[] } }) => err.packet?.granted,
  );

describe('sharing the broker, by role', () => {
  const fx = new BridgeFixture();
  beforeAll(async () => {
    fx.facade.upsertDevice(device({ id: 'th1', type: 'thermostat', online: true, capabilities: [C.temperature, C.setpoint] }));
    await fx.open({ retainedFile: path.join(tmp, 'roles-retained.json') });
  });
  afterAll(() => fx.close());

  it.each([4, 5] as const)('MQTT %i: integration and admin publish and subscribe other integrations\' topics, retained included', async (protocolVersion) => {
    const tasmota = await fx.client('integration', { protocolVersion });
    await tasmota.publishAsync(`tasmota/v${protocolVersion}/POWER`, 'ON', { qos: 1, retain: true });
    await tasmota.publishAsync(`homeassistant/switch/tasmota_v${protocolVersion}/config`, '{"name":"plug"}', { qos: 1, retain: true });
    for (const user of ['admin', 'integration', 'viewer'] as const) {
      const c = await fx.client(user, { protocolVersion });
      const got = record(c);
      await c.subscribeAsync([`tasmota/v${protocolVersion}/#`, `homeassistant/switch/tasmota_v${protocolVersion}/config`]);
      expect((await waitForMessage(got, `tasmota/v${protocolVersion}/POWER`)).retain).toBe(true);
      expect((await waitForMessage(got, `homeassistant/switch/tasmota_v${protocolVersion}/config`)).payload).toBe('{"name":"plug"}');
    }
    const admin = await fx.client('admin', { protocolVersion });
    await admin.publishAsync('nodered/flow/out', 'x', { qos: 1 });
    expect(admin.connected).toBe(true);
  });

  it('the hub namespace stays the hub\'s: MQTT 5 publishes to state, availability, bridge and Hearth discovery get PUBACK 0x87', async () => {
    const c = await fx.client('admin', { protocolVersion: 5 });
    for (const topic of ['hearth/th1/state', 'hearth/th1/availability', 'hearth/bridge/state', 'homeassistant/device/hearth_th1/config', 'homeassistant/sensor/hearth_th1/temperature/config']) {
      const err = await c.publishAsync(topic, 'forged', { qos: 1, retain: true }).then(() => null, (e: { code?: number }) => e);
      expect({ topic, code: err?.code }).toEqual({ topic, code: 0x87 });
    }
    expect(c.connected).toBe(true);
    const viewer = await fx.client('viewer', { protocolVersion: 5 });
    const got = record(viewer);
    await viewer.subscribeAsync('hearth/bridge/state');
    expect((await waitForMessage(got, 'hearth/bridge/state')).payload).toBe('online');
  });

  it('viewer writes nothing, outside the namespace neither (3.1.1: connection closed; 5: PUBACK 0x87)', async () => {
    const v5 = await fx.client('viewer', { protocolVersion: 5 });
    expect(await v5.publishAsync('tasmota/x/cmnd', '1', { qos: 1 }).then(() => 0, (e: { code?: number }) => e.code)).toBe(0x87);
    const v4 = await fx.client('viewer', { protocolVersion: 4 });
    const closed = new Promise<void>((resolve) => v4.once('close', () => resolve()));
    v4.publish('tasmota/x/cmnd', '1');
    await closed;
    await eventually(() => fx.logger.records.some((l) => l.obj['code'] === 'HUB_ERR_MQTT_PUBLISH_DENIED' && l.obj['topic'] === 'tasmota/x/cmnd'));
  });

  it('commands still work, and a retained command is stored as not retained', async () => {
    const c = await fx.client('integration', { protocolVersion: 5 });
    await c.publishAsync('hearth/th1/set/setpoint', '21', { qos: 1, retain: true });
    await eventually(() => fx.facade.sent.some((s) => s.command === 'setpoint' && s.input === 21));
    const late = await fx.client('viewer', { protocolVersion: 5 });
    const got = record(late);
    // A retained marker published after the command: once it arrives, a retained command would have too.
    await c.publishAsync('shared/marker', 'm', { qos: 1, retain: true });
    await late.subscribeAsync(['hearth/th1/set/setpoint', 'shared/marker']);
    await waitForMessage(got, 'shared/marker');
    expect(got.filter((m) => m.topic === 'hearth/th1/set/setpoint')).toEqual([]);
  });
});

describe('an ACL file in Mosquitto\'s format', () => {
  const fx = new BridgeFixture();
  const aclFile = path.join(tmp, 'acl');
  beforeAll(async () => {
    fs.writeFileSync(
      aclFile,
      [
        '# Node-RED runs as integration: its own tree, Tasmota read-only (not the secrets), and Hearth commands',
        'user integration',
        'topic readwrite nodered/#',
        'topic read tasmota/#',
        'topic deny tasmota/secret/#',
        'topic read hearth/#',
        'topic write hearth/+/set/+',
        'user admin',
        'topic #',
        'pattern readwrite clients/%c/#',
      ].join('\n'),
    );
    fx.facade.upsertDevice(device({ id: 'th1', type: 'thermostat', online: true, capabilities: [C.temperature, C.setpoint] }));
    await fx.open({ aclFile });
  });
  afterAll(() => fx.close());

  it('a filter the user may not read gets SUBACK 0x80 on 3.1.1 and 0x87 on MQTT 5; the others are granted', async () => {
    const v4 = await fx.client('integration', { protocolVersion: 4 });
    expect(await suback(v4, ['tasmota/#', '#', 'shellies/#'])).toEqual([0, 0x80, 0x80]);
    const v5 = await fx.client('integration', { protocolVersion: 5 });
    expect(await suback(v5, ['tasmota/+/POWER', 'tasmota/secret/#', 'nodered/#'])).toEqual([0, 0x87, 0]);
    expect(fx.logger.records.some((l) => l.obj['code'] === 'HUB_ERR_MQTT_SUBSCRIBE_DENIED' && l.obj['filter'] === '#')).toBe(true);
  });

  it('a deny line inside a granted filter: those messages are not delivered', async () => {
    const reader = await fx.client('integration', { protocolVersion: 5 });
    const got = record(reader);
    await reader.subscribeAsync('tasmota/#');
    const admin = await fx.client('admin', { protocolVersion: 5 });
    await admin.publishAsync('tasmota/secret/key', 'hidden', { qos: 1 });
    await admin.publishAsync('tasmota/plug/POWER', 'ON', { qos: 1 });
    await waitForMessage(got, 'tasmota/plug/POWER');
    expect(got.map((m) => m.topic)).toEqual(['tasmota/plug/POWER']);
  });

  it('writes only what the file grants, and never the hub namespace: commands yes, state no', async () => {
    const c = await fx.client('integration', { protocolVersion: 5 });
    const code = (topic: string) => c.publishAsync(topic, '1', { qos: 1 }).then(() => 0, (e: { code?: number }) => e.code);
    expect(await code('nodered/out')).toBe(0);
    expect(await code('tasmota/plug/cmnd')).toBe(0x87);
    expect(await code('hearth/th1/set/setpoint')).toBe(0);
    expect(await code('hearth/th1/state')).toBe(0x87);
    const admin = await fx.client('admin', { protocolVersion: 5 });
    expect(await admin.publishAsync('hearth/th1/state', '{}', { qos: 1 }).then(() => 0, (e: { code?: number }) => e.code)).toBe(0x87);
  });

  it('pattern lines with %c apply to every user', async () => {
    const c = await fx.client('integration', { protocolVersion: 5, clientId: 'plug7' });
    expect(await c.publishAsync('clients/plug7/state', 'on', { qos: 1 }).then(() => 0, (e: { code?: number }) => e.code)).toBe(0);
    expect(await c.publishAsync('clients/plug8/state', 'on', { qos: 1 }).then(() => 0, (e: { code?: number }) => e.code)).toBe(0x87);
  });

  it('a changed file is read again at the next CONNECT; a malformed change is refused and the rules before stay', async () => {
    const original = fs.readFileSync(aclFile, 'utf8');
    const before = await fx.client('integration', { protocolVersion: 5 });
    expect(await suback(before, ['shellies/#'])).toEqual([0x87]);
    fs.writeFileSync(aclFile, `${original}\nuser integration\ntopic read shellies/#\n`);
    const after = await fx.client('integration', { protocolVersion: 5 });
    expect(await suback(after, ['shellies/#'])).toEqual([0]);
    fs.writeFileSync(aclFile, 'user integration\ntopic read shellies/#\nbogus\n');
    const third = await fx.client('integration', { protocolVersion: 5 });
    expect(await suback(third, ['shellies/#', 'nodered/#'])).toEqual([0, 0]);
    expect(fx.logger.records.some((l) => l.level === 'error' && l.obj['code'] === 'HUB_ERR_MQTT_ACL_FILE')).toBe(true);
    fs.writeFileSync(aclFile, original);
  });

  it('a malformed file stops the bridge from starting, naming the line (HUB_ERR_MQTT_ACL_FILE)', async () => {
    const bad = path.join(tmp, 'bad-acl');
    fs.writeFileSync(bad, 'user a\ntopic raed x\nbogus\n');
    const other = new BridgeFixture();
    await expect(other.open({ aclFile: bad })).rejects.toThrow(`HUB_ERR_MQTT_ACL_FILE: ${bad}:3: unknown directive "bogus"`);
    await other.close();
  });
});

describe('session takeover only by the same user', () => {
  const fx = new BridgeFixture();
  beforeAll(() => fx.open());
  afterAll(() => fx.close());

  it.each([[4, 5], [5, 0x87]] as const)('MQTT %i: another user\'s CONNECT with a connected client id is refused (%i); the owner keeps it', async (protocolVersion, code) => {
    const id = `ha-main-v${protocolVersion}`;
    const owner = await fx.client('integration', { protocolVersion, clientId: id, clean: false, ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 300 } } : {}) });
    const got = record(owner);
    await owner.subscribeAsync(`shared/${id}`, { qos: 1 });
    const takenBefore = fx.bridge.refusals().get('session_taken') ?? 0;
    expect(await refusal(fx, 'viewer', { protocolVersion, clientId: id })).toBe(code);
    expect(await refusal(fx, 'admin', { protocolVersion, clientId: id })).toBe(code);
    expect(owner.connected).toBe(true);
    const admin = await fx.client('admin', { protocolVersion });
    await admin.publishAsync(`shared/${id}`, 'still mine', { qos: 1 });
    expect((await waitForMessage(got, `shared/${id}`)).payload).toBe('still mine');
    // Both refusals are counted; the log line is bounded (once per code per 10 s), so only the first run logs it.
    expect(fx.bridge.refusals().get('session_taken')).toBe(takenBefore + 2);
    expect(fx.logger.records.some((l) => l.obj['code'] === 'HUB_ERR_MQTT_SESSION_TAKEN' && l.obj['user'] === 'viewer')).toBe(true);
  });

  it('a persistent session waiting offline is refused to another user and resumed by its owner with its messages', async () => {
    const opts = { protocolVersion: 5 as const, clientId: 'nodered-1', clean: false, properties: { sessionExpiryInterval: 300 } };
    const first = await fx.client('integration', opts);
    await first.subscribeAsync('shared/offline', { qos: 1 });
    await first.endAsync();
    const admin = await fx.client('admin', { protocolVersion: 5 });
    await admin.publishAsync('shared/offline', 'queued', { qos: 1 });
    expect(await refusal(fx, 'viewer', opts)).toBe(0x87);
    const queued: string[] = [];
    const again = await fx.client('integration', opts);
    again.on('message', (_t, p) => queued.push(p.toString()));
    await eventually(() => queued.length === 1);
    expect(queued).toEqual(['queued']);
  });

  it('the same user takes its session over: the old connection is closed (MQTT 5: DISCONNECT 0x8E)', async () => {
    const old = await fx.client('integration', { protocolVersion: 5, clientId: 'takeover' });
    const disconnects: number[] = [];
    old.on('disconnect', (p) => disconnects.push(p.reasonCode ?? 0));
    const fresh = await fx.client('integration', { protocolVersion: 5, clientId: 'takeover' });
    expect(fresh.connected).toBe(true);
    await eventually(() => disconnects.length === 1);
    expect(disconnects).toEqual([0x8e]);
  });
});

describe("other integrations' retained messages survive a restart", () => {
  const fx = new BridgeFixture();
  const retainedFile = path.join(tmp, 'retained.json');
  beforeAll(async () => {
    fx.facade.upsertDevice(device({ id: 'th1', type: 'thermostat', online: true, capabilities: [C.temperature] }));
    await fx.open({ retainedFile });
  });
  afterAll(() => fx.close());

  it('kept in the data directory, served to new subscribers after the restart; cleared ones stay cleared', async () => {
    const c = await fx.client('integration', { protocolVersion: 5 });
    await c.publishAsync('shellies/shelly1/relay/0', 'on', { qos: 1, retain: true, properties: { contentType: 'text/plain', userProperties: { src: 'shelly' } } });
    await c.publishAsync('tasmota/plug/POWER', 'OFF', { qos: 0, retain: true });
    await c.publishAsync('tasmota/gone', 'x', { qos: 1, retain: true });
    await c.publishAsync('tasmota/gone', '', { qos: 1, retain: true }); // an empty retained message clears it
    await fx.restart();
    const stored = JSON.parse(fs.readFileSync(retainedFile, 'utf8')) as { messages: Record<string, unknown> };
    // Only other integrations' topics: the hub re-publishes its own tree from its database at start.
    expect(Object.keys(stored.messages).sort()).toEqual(['shellies/shelly1/relay/0', 'tasmota/plug/POWER']);
    expect(fs.statSync(retainedFile).mode & 0o777).toBe(0o600);

    const later = await fx.client('viewer', { protocolVersion: 5 });
    const packets: IPublishPacket[] = [];
    later.on('message', (_t, _p, packet) => packets.push(packet));
    await later.subscribeAsync(['shellies/#', 'tasmota/#', 'hearth/th1/availability']);
    await eventually(() => packets.length === 3);
    const byTopic = new Map(packets.map((p) => [p.topic, p]));
    expect(byTopic.get('shellies/shelly1/relay/0')).toMatchObject({ retain: true, properties: { contentType: 'text/plain', userProperties: { src: 'shelly' } } });
    expect(byTopic.get('shellies/shelly1/relay/0')!.payload.toString()).toBe('on');
    expect(byTopic.get('tasmota/plug/POWER')!.payload.toString()).toBe('OFF');
    expect(byTopic.has('tasmota/gone')).toBe(false);
    expect(byTopic.get('hearth/th1/availability')!.payload.toString()).toBe('online');
  });

  it('an unreadable file is moved aside and the broker starts empty', async () => {
    fs.writeFileSync(retainedFile, '{not json');
    await fx.restart();
    expect(fs.readFileSync(`${retainedFile}.corrupt`, 'utf8')).toBe('{not json');
    expect(fx.logger.records.some((l) => l.level === 'error' && /retained MQTT messages file is unreadable/.test(l.msg))).toBe(true);
    const c = await fx.client('viewer', { protocolVersion: 5 });
    expect(c.connected).toBe(true);
  });
});
