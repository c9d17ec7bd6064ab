import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt, { type MqttClient } from 'mqtt';
import { buildCommit } from '../hub/build-commit.js';
import type { Hub } from '../hub/hub.js';
import type { BridgeHealthPayload, BridgeInfoPayload } from '../hub/mqtt/topics.js';
import { eventually } from './support/eventually.js';
import { hello } from './support/fixtures.js';
import { startHub } from './support/hub-harness.js';
import { call } from './support/http.js';
import { RawDevice } from './support/raw-device.js';
import { sqliteNow } from '../hub/testing/sqlite-now.js';

// bridge/health and bridge/info of a real hub: ACK latencies measured by ingest reach ackLatencyP99Ms through
// the hub's metrics, per health interval; bridge/info names the commit the build recorded.
let hub: Hub;
let wss: string;
let stop: () => Promise<void>;
let client: MqttClient;
const health: BridgeHealthPayload[] = [];
let info: BridgeInfoPayload | undefined;
let logs: string[];

beforeAll(async () => {
  const h = await startHub({ overrides: { 'hub.id': 'hub-a', 'mqtt.embedded': true, 'mqtt.port': 0, 'mqtt.tlsPort': null, 'mqtt.healthIntervalMs': 200 } });
  [hub, wss, stop, logs] = [h.hub, h.wssUrl, h.stop, h.logs];
  await hub.auth.users.add('ha', 'integration-pass', 'integration');
  client = await mqtt.connectAsync(`mqtt://127.0.0.1:${hub.mqtt!.addresses().tcp!.port}`, { username: 'ha', password: 'integration-pass', reconnectPeriod: 0 });
  client.on('message', (topic, payload) => {
    if (topic === 'hearth/bridge/health') health.push(JSON.parse(payload.toString()) as BridgeHealthPayload);
    if (topic === 'hearth/bridge/info') info = JSON.parse(payload.toString()) as BridgeInfoPayload;
  });
  await client.subscribeAsync(['hearth/bridge/health', 'hearth/bridge/info']);
});

afterAll(async () => {
  await client.endAsync();
  await stop();
});

describe('bridge/health and bridge/info on a real hub', () => {
  it('ackLatencyP99Ms: the p99 of the ACKs of its interval, null for an interval without any', async () => {
    // An interval with nothing acknowledged yet: null.
    await eventually(() => health.length > 0, { what: 'a bridge/health message' });
    expect(health[0]!.ackLatencyP99Ms).toBeNull();
    const { token } = sqliteNow(hub.registry.provision('lat-1', 'Latency probe', 'thermostat', Date.now()));
    const { device } = await RawDevice.greet(wss, 'lat-1', token, hello());
    const seen = health.length;
    for (let seq = 1; seq <= 20; seq++) {
      device.send({ type: 'telemetry', seq, ts: 1_700_000_000_000 + seq, readings: [{ metric: 1, value: { type: 'float', value: 20 + seq / 10 } }] });
      await device.ackFor(seq);
    }
    const measured = await eventually(() => health.slice(seen).find((h) => h.ackLatencyP99Ms !== null) ?? false, { what: 'a health message with a latency' });
    // Between 0 and the histogram's largest bound (0.5 ms x 2^11 = 1.024 s), in ms.
    expect(measured.ackLatencyP99Ms).toBeGreaterThan(0);
    expect(measured.ackLatencyP99Ms).toBeLessThanOrEqual(1024);
    // Nothing acknowledged since: the next intervals say null again rather than repeating an old value.
    const after = health.indexOf(measured) + 1;
    await eventually(() => health.length > after + 1, { what: 'two more health messages' });
    expect(health[after + 1]!.ackLatencyP99Ms).toBeNull();
    await device.close();
  });

  it('bridge/info.commit is the commit the build recorded (null only when unknown)', async () => {
    await eventually(() => info !== undefined, { what: 'bridge/info' });
    expect(info!.commit).toBe(buildCommit());
    // The test run builds first (pretest), in a git checkout: the commit is known there.
    if (process.env['HEARTH_COMMIT'] === undefined) expect(info!.commit).toMatch(/^[0-9a-f]{40}$/);
  });

  it('the hub id (hub.id) is in bridge/info, GET /api/hub, /metrics and every log line', async () => {
    await eventually(() => info !== undefined, { what: 'bridge/info' });
    expect(info!.hubId).toBe('hub-a');
    const [ca, token] = [hub.tls.cert, hub.adminToken];
    expect((await call(hub.url, ca, 'GET', '/api/hub', { token })).body.hubId).toBe('hub-a');
    const metrics = String((await call(hub.url, ca, 'GET', '/metrics', { token })).body);
    expect(metrics).toMatch(/^hearth_hub_info\{hub_id="hub-a",version="[^"]+"\} 1$/m);
    const records = logs.map((l) => JSON.parse(l) as { hub?: string; msg: string });
    expect(records.length).toBeGreaterThan(3);
    expect(records.filter((r) => r.hub !== 'hub-a')).toEqual([]);
    expect(records.find((r) => r.msg === 'hub listening')).toMatchObject({ hubId: 'hub-a' });
  });
});
