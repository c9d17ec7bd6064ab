// The hub's own publishes into the embedded broker: retained and non-retained ones handed over in the same
// turn all reach a live subscriber, each stream in its order (aedes's per-broker-id de-duplication once
// dropped every retained one overtaken by a non-retained one).
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import mqtt, { type MqttClient } from 'mqtt';
import { Acl } from './acl.js';
import { EmbeddedBroker } from './embedded-broker.js';
import { SILENT_LOGGER } from './logger.js';
import { eventually } from '../../test/support/eventually.js';
import { Topics } from './topics.js';

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
  logger: SILENT_LOGGER,
  onClientPublish: () => undefined,
});
let client: MqttClient;

beforeAll(async () => {
  await broker.start();
  client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.addresses().tcp!.port}`, { reconnectPeriod: 0 });
});
afterAll(async () => {
  await client.endAsync(true);
  await broker.stop();
});

it('retained and non-retained publishes of one turn all reach a live subscriber, each in order', async () => {
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
});
