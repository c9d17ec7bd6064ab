import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt, { type MqttClient } from 'mqtt';
import type { CommandFrame } from '../protocol/types.js';
import type { Hub } from '../hub/hub.js';
import { RawDevice } from './support/raw-device.js';
import { hello } from './support/fixtures.js';
import { startHub } from './support/hub-harness.js';
import { sqliteNow } from '../hub/testing/sqlite-now.js';

// The real wiring: device frames -> ingest -> commit -> event bus -> embedded aedes -> an MQTT client, and
// back: an MQTT publish to a set topic -> COMMAND frame -> COMMAND_RESULT -> result topic.
let hub: Hub;
let wss: string;
let stop: () => Promise<void>;
let client: MqttClient;
const received = new Map<string, string>();

function waitForMessage(topic: string, pred: (payload: string) => boolean = () => true): Promise<string> {
  const seen = received.get(topic);
  if (seen !== undefined && pred(seen)) return Promise.resolve(seen);
  return new Promise((resolve) => {
    const onMessage = (t: string, payload: Buffer) => {
      if (t === topic && pred(payload.toString())) {
        client.off('message', onMessage);
        resolve(payload.toString());
      }
    };
    client.on('message', onMessage);
  });
}

beforeAll(async () => {
  const h = await startHub({ overrides: { 'mqtt.embedded': true, 'mqtt.port': 0, 'mqtt.tlsPort': null, 'mqtt.websocket': true } });
  hub = h.hub;
  wss = h.wssUrl;
  stop = h.stop;
  await hub.auth.users.add('ha', 'integration-pass', 'integration');
  const port = hub.mqtt!.addresses().tcp!.port;
  client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { username: 'ha', password: 'integration-pass', reconnectPeriod: 0 });
  client.on('message', (topic, payload) => received.set(topic, payload.toString()));
  await client.subscribeAsync('hearth/#');
});

afterAll(async () => {
  await client.endAsync();
  await stop();
});

describe('hub -> MQTT', () => {
  it('publishes committed readings, availability, and takes commands from set topics', async () => {
    const { token } = sqliteNow(hub.registry.provision('mq-1', 'Hall thermostat', 'thermostat', Date.now()));
    const { device } = await RawDevice.greet(wss, 'mq-1', token, hello());
    expect(await waitForMessage('hearth/mq-1/availability', (p) => p === 'online')).toBe('online');
    device.send({ type: 'telemetry', seq: 1, ts: 1_700_000_000_000, readings: [{ metric: 1, value: { type: 'float', value: 21.25 } }] });
    expect(await waitForMessage('hearth/mq-1/temperature')).toBe('21.25');
    const state = JSON.parse(await waitForMessage('hearth/mq-1/state', (p) => p.includes('temperature')));
    expect(state.temperature).toEqual({ value: 21.25, ts: 1_700_000_000_000 });
    // The lossless stream goes out in the same turn as the retained state (aedes once lost one of the two).
    expect(JSON.parse(await waitForMessage('hearth/mq-1/readings'))).toEqual([{ metric: 'temperature', value: 21.25, ts: 1_700_000_000_000 }]);
    const burst = [1, 2, 3].map((i) => ({ metric: 1, value: { type: 'float' as const, value: 21 + i } }));
    device.send({ type: 'batch', seq: 2, samples: burst.map((r, i) => ({ ...r, ts: 1_700_000_001_000 + i })) });
    const streamed = JSON.parse(await waitForMessage('hearth/mq-1/readings', (p) => p.includes('24'))) as { value: number }[];
    expect(streamed.map((r) => r.value)).toEqual([22, 23, 24]);
    expect(await waitForMessage('hearth/mq-1/temperature', (p) => p === '24')).toBe('24');
    device.send({ type: 'telemetry', seq: 3, ts: 1_700_000_002_000, readings: [{ metric: 5, value: { type: 'enum', value: 2 } }] });
    expect(JSON.parse(await waitForMessage('hearth/mq-1/readings', (p) => p.includes('mode')))).toEqual([{ metric: 'mode', value: 'eco', ts: 1_700_000_002_000 }]);

    const resultTopic = 'hearth/mq-1/set/setpoint/result';
    await client.publishAsync('hearth/mq-1/set/setpoint', '23');
    const command = (await device.next('command')) as CommandFrame;
    expect(command).toMatchObject({ metric: 3, value: { type: 'float', value: 23 } });
    device.send({ type: 'command_result', id: command.id, status: 'ok', message: '' });
    expect(JSON.parse(await waitForMessage(resultTopic))).toMatchObject({ status: 'ok' });

    await client.publishAsync('hearth/mq-1/set/setpoint', 'warm');
    expect(JSON.parse(await waitForMessage(resultTopic, (p) => p.includes('invalid')))).toMatchObject({ status: 'invalid', message: expect.stringContaining('number') });

    await device.close();
    expect(await waitForMessage('hearth/mq-1/availability', (p) => p === 'offline')).toBe('offline');
    await client.publishAsync('hearth/mq-1/set/setpoint', '20');
    expect(JSON.parse(await waitForMessage(resultTopic, (p) => p.includes('offline')))).toMatchObject({ status: 'offline' });
  });

  it('serves MQTT over WebSocket at /mqtt on the hub port beside the device endpoint', async () => {
    const ws = await mqtt.connectAsync(`wss://127.0.0.1:${hub.port}/mqtt`, { username: 'ha', password: 'integration-pass', rejectUnauthorized: false, reconnectPeriod: 0 });
    const got = new Promise<string>((resolve) => ws.on('message', (_t, p) => resolve(p.toString())));
    await ws.subscribeAsync('hearth/bridge/state');
    expect(await got).toBe('online');
    await ws.endAsync();
  });
});
