// The SUBSCRIBE paths of a real aedes 2.0.0-beta.1 broker and its in-memory persistence, with and without
// patchPersistence: the retained messages served, and how the cost grows with filters x retained topics.
import { afterEach, describe, expect, it } from '@jest/globals';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import net, { type AddressInfo } from 'node:net';
import { eventually } from '../../test/support/eventually.js';
import { patchPersistence, type SubscribePersistence } from './persistence-patch.js';

const opened: { broker: Aedes; server: net.Server; clients: MqttClient[] }[] = [];

afterEach(async () => {
  for (const o of opened.splice(0)) {
    await Promise.all(o.clients.map((c) => c.endAsync(true)));
    await new Promise<void>((resolve) => o.server.close(() => resolve()));
    await new Promise<void>((resolve) => o.broker.close(() => resolve()));
  }
});

async function start(patched: boolean, retained: string[]): Promise<{ broker: Aedes; client: (o?: mqtt.IClientOptions) => Promise<MqttClient>; addCalls: () => number }> {
  const broker = await Aedes.createBroker({});
  const persistence = (broker as unknown as { persistence: SubscribePersistence }).persistence;
  let calls = 0;
  const add = persistence.addSubscriptions.bind(persistence);
  persistence.addSubscriptions = (client, subs) => {
    calls++;
    return add(client, subs);
  };
  if (patched) patchPersistence(persistence);
  const server = net.createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const entry = { broker, server, clients: [] as MqttClient[] };
  opened.push(entry);
  for (const topic of retained) {
    await new Promise<void>((resolve) => broker.publish({ cmd: 'publish', topic, payload: Buffer.from(topic), qos: 0, retain: true, dup: false }, () => resolve()));
  }
  const port = (server.address() as AddressInfo).port;
  return {
    broker,
    client: async (o = {}) => {
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, ...o });
      entry.clients.push(c);
      return c;
    },
    addCalls: () => calls,
  };
}

describe('patchPersistence', () => {
  it('serves the retained messages a SUBSCRIBE matches, once each, as §4.7 says', async () => {
    const retained = ['a', 'a/b', 'a/b/c', 'b/1/c', 'b/2/c/d', 'c', '$x/y'];
    const { client } = await start(true, retained);
    const c = await client();
    const got: string[] = [];
    c.on('message', (topic, _p, packet) => packet.retain && got.push(topic));
    // Overlapping filters: a/# and a/b both match a/b, which is sent once. # matches no $ topic [MQTT-4.7.2-1].
    await c.subscribeAsync(['a/#', 'a/b', 'b/+/c', 'nothing/here']);
    await eventually(() => got.length === 4);
    expect(got.sort()).toEqual(['a', 'a/b', 'a/b/c', 'b/1/c']);
    const d = await client();
    const all: string[] = [];
    d.on('message', (topic) => all.push(topic));
    await d.subscribeAsync('#');
    await eventually(() => all.length === 6);
    expect(all.sort()).toEqual(retained.filter((t) => !t.startsWith('$')).sort());
  });

  it('stores a persistent SUBSCRIBE of n filters once, not n times', async () => {
    for (const patched of [false, true]) {
      const { client, addCalls } = await start(patched, []);
      const c = await client({ clientId: `persistent-${patched}`, clean: false });
      await c.subscribeAsync(Array.from({ length: 200 }, (_, i) => `f/${i}`));
      expect({ patched, calls: addCalls() }).toEqual({ patched, calls: patched ? 1 : 200 });
    }
  });

  it('10 SUBSCRIBEs of 500 filters against 20,000 retained topics cost one pass each, with turns of the loop', async () => {
    const retained = Array.from({ length: 20_000 }, (_, i) => `homeassistant/sensor/d${i}/config`);
    const { client } = await start(true, retained);
    const c = await client({ clientId: 'viewer', clean: false });
    const got: string[] = [];
    c.on('message', (topic) => got.push(topic));
    // Turns of the event loop while the SUBSCRIBEs are handled: the retained passes must let them in.
    let turns = 0;
    const ticker = setInterval(() => turns++, 1);
    const cpu = process.cpuUsage();
    for (let p = 0; p < 10; p++) await c.subscribeAsync(Array.from({ length: 500 }, (_, i) => `x/${p}/${i}/+`));
    await c.subscribeAsync('homeassistant/sensor/d19999/+');
    await eventually(() => got.length === 1);
    const used = process.cpuUsage(cpu);
    clearInterval(ticker);
    // Unpatched, each SUBSCRIBE runs 10,000,000 matches in one go: minutes of CPU for the ten. Patched,
    // one pass of 20,000 topics each (~0.1 s) and aedes' own work per filter. CPU time, not wall time, so
    // that a loaded test machine does not decide: ~2.4 s here when quiet, 13.7 s seen with the machine's
    // two cores shared by several test runs; unpatched it is over 100 s.
    expect((used.user + used.system) / 1e6).toBeLessThan(40);
    expect(turns).toBeGreaterThan(10);
    expect(got).toEqual(['homeassistant/sensor/d19999/config']);
  }, 90_000); // 20,000 retained topics take a while on a loaded CI machine; no speed is asserted
});
