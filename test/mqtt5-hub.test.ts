// Issue #11 "done when", on the real hub: Home Assistant's own client library (paho-mqtt, MQTTv5) receives
// discovery and state of a real device and commands it; another integration shares the broker under the ACL
// file of `mqtt.aclFile`; its retained messages survive a restart of the hub (`<dataDir>/mqtt-retained.json`).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs, { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { CommandFrame } from '../protocol/types.js';
import { PahoRun, pahoGate, requirePaho } from '../hub/mqtt/testing/mqtt5-kit.js';
import { hello } from './support/fixtures.js';
import { startHub } from './support/hub-harness.js';
import { RawDevice } from './support/raw-device.js';
import { sqliteNow } from '../hub/testing/sqlite-now.js';

const withPaho = pahoGate() === 'run' ? describe : describe.skip;

withPaho('the real hub with MQTT 5 clients', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hearth-mqtt5-hub-'));
  const aclFile = join(dataDir, 'mqtt.acl');
  const overrides = { 'mqtt.embedded': true, 'mqtt.port': 0, 'mqtt.tlsPort': null, 'mqtt.websocket': false, 'mqtt.aclFile': aclFile, 'mqtt.rediscoverDelayMs': 0 };
  let h: Awaited<ReturnType<typeof startHub>>;
  const port = () => h.hub.mqtt!.addresses().tcp!.port;

  beforeAll(async () => {
    requirePaho();
    fs.writeFileSync(aclFile, ['user ha', 'topic #', 'user nodered', 'topic readwrite nodered/#', 'topic read hearth/#'].join('\n'));
    h = await startHub({ dataDir, overrides });
    await h.hub.auth.users.add('ha', 'ha-pass', 'integration');
    await h.hub.auth.users.add('nodered', 'nr-pass', 'integration');
  });
  afterAll(async () => {
    await h?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("Home Assistant's client library (paho-mqtt MQTTv5) receives discovery and state, and its command reaches the device", async () => {
    const { token } = sqliteNow(h.hub.registry.provision('th5', 'Hall thermostat', 'thermostat', Date.now()));
    const { device } = await RawDevice.greet(h.wssUrl, 'th5', token, hello());
    device.send({ type: 'telemetry', seq: 1, ts: 1_700_000_000_000, readings: [{ metric: 1, value: { type: 'float', value: 21.5 } }] });
    const ha = new PahoRun({
      port: port(),
      username: 'ha',
      password: 'ha-pass',
      clientId: 'homeassistant-1',
      will: { topic: 'homeassistant/status', payload: 'offline', qos: 1 },
      subscribe: [['homeassistant/device/hearth_th5/config', 1], ['hearth/th5/state', 1], ['hearth/th5/availability', 1]],
      expect: 3,
      hold: true,
      timeout: 15,
    });
    const config = await ha.waitFor((e) => e.event === 'message' && e.topic === 'homeassistant/device/hearth_th5/config', 'the discovery config');
    expect(JSON.parse(config.payload!)).toMatchObject({ dev: { identifiers: ['hearth_th5'] }, cmps: expect.any(Object) });
    const state = await ha.waitFor((e) => e.event === 'message' && e.topic === 'hearth/th5/state' && e.payload!.includes('21.5'), 'the state');
    expect(JSON.parse(state.payload!)).toEqual({ temperature: { value: 21.5, ts: 1_700_000_000_000 } });
    expect((await ha.waitFor((e) => e.event === 'message' && e.topic === 'hearth/th5/availability', 'availability')).payload).toBe('online');
    await ha.kill();

    const commander = new PahoRun({ port: port(), username: 'ha', password: 'ha-pass', publish: [{ topic: 'hearth/th5/set/setpoint', payload: '22', qos: 1 }], hold: true });
    const command = (await device.next('command')) as CommandFrame;
    expect(command).toMatchObject({ metric: 3, value: { type: 'float', value: 22 } });
    await commander.kill();
    await device.close();
  });

  it("another integration's retained messages survive a hub restart; the ACL file still applies after it", async () => {
    const nr = await mqtt.connectAsync(`mqtt://127.0.0.1:${port()}`, { protocolVersion: 5, username: 'nodered', password: 'nr-pass', reconnectPeriod: 0 });
    await nr.publishAsync('nodered/flows/heating', 'auto', { qos: 1, retain: true });
    const denied = await nr.publishAsync('tasmota/plug/cmnd', '1', { qos: 1 }).then(() => 0, (e: { code?: number }) => e.code);
    expect(denied).toBe(0x87);
    await nr.endAsync();

    await h.hub.stop();
    expect(JSON.parse(fs.readFileSync(join(dataDir, 'mqtt-retained.json'), 'utf8')).messages).toHaveProperty(['nodered/flows/heating']);
    h = await startHub({ dataDir, overrides });

    const reader = new PahoRun({ port: port(), username: 'ha', password: 'ha-pass', subscribe: [['nodered/#', 1]], expect: 1 });
    const m = await reader.waitFor((e) => e.event === 'message', 'the retained message after the restart');
    expect(m).toMatchObject({ topic: 'nodered/flows/heating', payload: 'auto', retain: true });
    expect(await reader.ended).toBe(0);
    const again = await mqtt.connectAsync(`mqtt://127.0.0.1:${port()}`, { protocolVersion: 5, username: 'nodered', password: 'nr-pass', reconnectPeriod: 0 });
    const granted = await again.subscribeAsync(['#']).then(() => null, (err: { packet?: { granted: number[] } }) => err.packet?.granted);
    expect(granted).toEqual([0x87]);
    await again.endAsync();
  });
});
