import { expect } from '@jest/globals';
import mqtt, { type MqttClient } from 'mqtt';
import type { ConfigKey } from '../../hub/config.js';
import type { Hub } from '../../hub/hub.js';
import { eventually } from './eventually.js';
import { hello } from './fixtures.js';
import { startHub } from './hub-harness.js';
import { RawDevice } from './raw-device.js';
import { sqliteNow } from '../../hub/testing/sqlite-now.js';

// A real hub with the embedded broker on TCP, TLS and /mqtt, one greeted device and one subscribed MQTT
// client: the bystanders every hostile-client test checks are still served while the attack runs.

export const PASSWORDS = { ha: 'integration-pass', viewer: 'viewer-pass', victim: 'victim-pass' } as const;

export interface HostileHub {
  hub: Hub;
  logs: string[];
  tcpPort: number;
  tlsPort: number;
  wssUrl: string;
  /** Connected as `ha` (integration), subscribed to hearth/#. */
  client: MqttClient;
  device: RawDevice;
  /** The device's next telemetry is ACKed and its value reaches the MQTT client. */
  stillWorks(): Promise<void>;
  /** The broker's refusals of `reason` so far. */
  refused(reason: string): number;
  /** Log records (parsed) with `code`. */
  logged(code: string): Record<string, unknown>[];
  stop(): Promise<void>;
}

/** Starts the hub with `overrides` on top of test-friendly limits, the bystander client and device. */
export async function startHostileHub(overrides: Partial<Record<ConfigKey, unknown>> = {}): Promise<HostileHub> {
  const h = await startHub({
    overrides: { 'mqtt.embedded': true, 'mqtt.port': 0, 'mqtt.tlsPort': 0, 'mqtt.websocket': true, 'log.level': 'info', ...overrides },
  });
  const { hub } = h;
  await hub.auth.users.add('ha', PASSWORDS.ha, 'integration');
  await hub.auth.users.add('viewer', PASSWORDS.viewer, 'viewer');
  await hub.auth.users.add('victim', PASSWORDS.victim, 'integration');
  const a = hub.mqtt!.addresses();
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${a.tcp!.port}`, { username: 'ha', password: PASSWORDS.ha, reconnectPeriod: 0 });
  const last = new Map<string, string>();
  client.on('message', (topic, payload) => last.set(topic, payload.toString()));
  await client.subscribeAsync('hearth/#');
  const { token } = sqliteNow(hub.registry.provision('bystander', 'Bystander', 'thermostat', Date.now()));
  const { device } = await RawDevice.greet(h.wssUrl, 'bystander', token, hello());
  let seq = 0;
  let value = 20;
  const stillWorks = async () => {
    seq += 1;
    value += 0.5;
    const sent = value;
    device.send({ type: 'telemetry', seq, ts: Date.now(), readings: [{ metric: 1, value: { type: 'float', value: sent } }] });
    await device.ackFor(seq);
    await eventually(() => last.get('hearth/bystander/temperature') === String(sent), { what: `hearth/bystander/temperature = ${sent}` });
    expect(client.connected).toBe(true);
  };
  await stillWorks();
  return {
    hub,
    logs: h.logs,
    tcpPort: a.tcp!.port,
    tlsPort: a.tls!.port,
    wssUrl: h.wssUrl,
    client,
    device,
    stillWorks,
    refused: (reason) => hub.mqtt!.refusals().get(reason) ?? 0,
    logged: (code) => h.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r['code'] === code),
    stop: async () => {
      await client.endAsync(true);
      await device.close();
      await h.stop();
    },
  };
}
