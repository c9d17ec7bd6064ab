// The hub's own publishes into the embedded broker under load: retained and non-retained ones handed over in
// the same turn all reach a live subscriber, each stream in its order (aedes's per-broker-id de-duplication
// once dropped every retained one overtaken by a non-retained one), and a subscriber that stops reading
// holds up no one else (aedes waited for its socket to drain before any other delivery went on).
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import mqtt, { type MqttClient } from 'mqtt';
import { Acl } from './acl.js';
import { EmbeddedBroker } from './embedded-broker.js';
import { eventually } from '../../test/support/eventually.js';
import { memoryLogger } from './testing/mqtt-test-kit.js';
import { Topics } from './topics.js';

const BACKLOG = 64 * 1024;
const logger = memoryLogger();
const broker = new EmbeddedBroker({
  host: '127.0.0.1',
  tcpPort: 0,
  tlsPort: null,
  tls: null,
  websocket: false,
  wsPath: '/mqtt',
  wsMaxPayload: 65536,
  auth: { authorize: async () => null },
  allowAnonymous: true,
  anonymousRole: 'viewer',
  allowedRoles: ['viewer'],
  acl: new Acl(new Topics('hearth', 'homeassistant'), null),
  retained: null,
  limits: { maxClientBacklogBytes: BACKLOG },
  logger,
  onClientPublish: () => undefined,
});
const clients: MqttClient[] = [];
const connect = async (clientId: string) => {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.addresses().tcp!.port}`, { clientId, reconnectPeriod: 0 });
  clients.push(c);
  return c;
};

beforeAll(() => broker.start());
afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true)));
  await broker.stop();
});

it('retained and non-retained publishes of one turn all reach a live subscriber, each in order', async () => {
  const client = await connect('ordered');
  const got: { topic: string; payload: string }[] = [];
  client.on('message', (topic, payload) => got.push({ topic, payload: payload.toString() }));
  await client.subscribeAsync('hearth/#');
  const sent: Promise<void>[] = [];
  // The StateMirror's shape: per device its retained state, then its non-retained readings stream.
  for (let i = 0; i < 600; i++) {
    sent.push(broker.publish(`hearth/d${i % 50}`, `s${i}`, true));
    sent.push(broker.publish(`hearth/d${i % 50}/readings`, `r${i}`, false));
  }
  await Promise.all(sent);
  await eventually(() => got.length >= 1200);
  const retained = got.filter((m) => !m.topic.endsWith('/readings')).map((m) => m.payload);
  const live = got.filter((m) => m.topic.endsWith('/readings')).map((m) => m.payload);
  expect(retained).toEqual(Array.from({ length: 600 }, (_, i) => `s${i}`));
  expect(live).toEqual(Array.from({ length: 600 }, (_, i) => `r${i}`));
  await client.endAsync(true);
});

it('a subscriber that stops reading holds up no other client, and is closed past mqtt.maxClientBacklogBytes', async () => {
  const slow = await connect('slow');
  await slow.subscribeAsync('hearth/#');
  slow.stream.pause(); // reads nothing more: the kernel's buffers fill, then its socket's
  const fast = await connect('fast');
  let count = 0;
  fast.on('message', (topic) => topic.endsWith('/readings') && (count += 1));
  await fast.subscribeAsync('hearth/#');
  // 20 MB: far more than loopback's kernel buffers hold for the paused reader.
  const payload = 'x'.repeat(1000);
  const n = 20_000;
  for (let i = 0; i < n; i++) {
    void broker.publish(`hearth/d${i % 200}/readings`, payload, false);
    if (i % 200 === 199) await new Promise((resolve) => setImmediate(resolve));
  }
  await eventually(() => count === n, { timeoutMs: 20_000, what: () => `fast got ${count} of ${n}; log ${JSON.stringify(logger.records.map((r) => r.obj))}` });
  // The hub's side of the slow connection is gone (the paused client itself reads no close).
  await eventually(() => broker.stats().clients === 1);
  const line = logger.records.find((r) => r.obj['code'] === 'HUB_ERR_MQTT_SLOW_CLIENT');
  expect(line).toMatchObject({ level: 'warn', obj: { clientId: 'slow', limit: BACKLOG } });
  expect(Number(line!.obj['backlogBytes'])).toBeGreaterThan(BACKLOG);
  expect(broker.refusals().get('slow_client')).toBe(1);
});
