// A broker that stops reading (overloaded, or a slow link): the hub's client holds messages in its Outbox
// with one 'drain' listener, keeps every retained topic's newest value, bounds the rest, and delivers in
// order once the broker reads again. Real Mosquitto behind a relay the test can pause.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { eventually } from '../../test/support/eventually.js';
import { ExternalBroker, MAX_HELD_LIVE } from './external-broker.js';
import { MosquittoServer, freePort, memoryLogger, mosquittoGate, record, requireMosquitto } from './testing/mqtt-test-kit.js';

const USERS = { hub: 'pw-hub', ha: 'pw-ha' };

/** A TCP relay to Mosquitto that stops reading from the hub while paused, so the hub's socket fills. */
class PausableLink {
  /** Each hub-side socket and its Mosquitto-side socket. */
  readonly #pairs = new Map<net.Socket, net.Socket>();
  readonly server: net.Server;

  constructor(targetPort: number) {
    this.server = net.createServer((inbound) => {
      const outbound = net.connect(targetPort, '127.0.0.1');
      this.#pairs.set(inbound, outbound);
      for (const s of [inbound, outbound]) s.on('error', () => s.destroy());
      inbound.pipe(outbound).pipe(inbound);
      inbound.on('close', () => (this.#pairs.delete(inbound), outbound.destroy()));
      outbound.on('close', () => inbound.destroy());
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Stops reading what the hub sends (Mosquitto's messages to the hub still flow). */
  pause(): void {
    for (const [inbound, outbound] of this.#pairs) {
      inbound.unpipe(outbound);
      inbound.pause();
    }
  }

  resume(): void {
    for (const [inbound, outbound] of this.#pairs) inbound.pipe(outbound);
  }

  close(): Promise<void> {
    for (const s of this.#pairs.keys()) s.destroy();
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const run = mosquittoGate() === 'run' ? it : it.skip;
let dir = '';
let mosquitto: MosquittoServer;

beforeAll(async () => {
  if (mosquittoGate() !== 'run') return;
  requireMosquitto();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-mosq-bp-'));
  mosquitto = new MosquittoServer(dir, await freePort());
  // The test counts every live message at the subscriber: Mosquitto must not drop QoS 0 messages to a slow
  // subscriber (its default queue of 1,000 did, once, under a loaded CI run: 29,933 of 30,000).
  mosquitto.configure(USERS, ['max_queued_messages 0']);
  await mosquitto.start();
});

afterAll(async () => {
  await mosquitto?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

run('holds messages for a broker that stops reading: one drain listener, newest retained values, bounded live messages, in order', async () => {
  const link = new PausableLink(mosquitto.port);
  const port = await link.listen();
  const logger = memoryLogger();
  const broker = new ExternalBroker({
    url: `mqtt://127.0.0.1:${port}`,
    ...{ username: 'hub', password: USERS.hub, clientId: 'hearth-bp' },
    will: { topic: 'bp/bridge/state', payload: 'offline' },
    subscribeFilters: [],
    ...{ reconnectPeriodMs: 100, connectTimeoutMs: 5000, protocolVersion: 5 as const, logger },
    onConnect: () => undefined,
    onMessage: () => undefined,
  });
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  let sub: MqttClient | undefined;
  try {
    await broker.start();
    await eventually(() => broker.isConnected(), { what: () => 'the hub to connect through the relay' });
    sub = await connectAsync(`mqtt://127.0.0.1:${mosquitto.port}`, { username: 'ha', password: USERS.ha, reconnectPeriod: 0 });
    const got = record(sub);
    await sub.subscribeAsync('bp/#', { qos: 0 });

    link.pause();
    const payload = 'x'.repeat(1024);
    const LIVE = 3 * MAX_HELD_LIVE;
    const newest = new Map<string, string>();
    for (let i = 0; i < LIVE; i++) {
      await broker.publish('bp/live', `${i} ${payload}`, false);
      if (i % 10 === 0) {
        const topic = `bp/state/${(i / 10) % 7}`;
        newest.set(topic, String(i));
        await broker.publish(topic, String(i), true);
      }
    }
    // Held for the full socket: at most MAX_HELD_LIVE live messages plus one per retained topic; the
    // oldest live ones beyond were dropped and counted.
    const held = broker.held();
    expect(held.held).toBeGreaterThan(0);
    expect(held.held).toBeLessThanOrEqual(MAX_HELD_LIVE + newest.size);
    expect(held.dropped).toBeGreaterThan(0);

    link.resume();
    await eventually(() => broker.held().held === 0, { timeoutMs: 30_000, what: () => `the outbox to empty: ${JSON.stringify(broker.held())}` });
    for (const [topic, value] of newest) {
      await eventually(() => got.some((r) => r.topic === topic && r.payload === value), { timeoutMs: 15_000, what: () => `${topic} = ${value}` });
    }
    await eventually(() => got.some((r) => r.topic === 'bp/live' && r.payload.startsWith(`${LIVE - 1} `)), { timeoutMs: 15_000, what: () => 'the last live message' });
    const live = got.filter((r) => r.topic === 'bp/live').map((r) => Number(r.payload.split(' ')[0]));
    expect(live.every((n, i) => i === 0 || n > live[i - 1]!)).toBe(true); // in order, gaps where dropped
    expect(live.length + broker.held().dropped).toBe(LIVE);
    // Each retained topic's values arrive in order too.
    for (const topic of newest.keys()) {
      const values = got.filter((r) => r.topic === topic).map((r) => Number(r.payload));
      expect(values.every((n, i) => i === 0 || n > values[i - 1]!)).toBe(true);
    }
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    expect(logger.records.some((r) => r.level === 'warn' && r.msg.includes('not keeping up'))).toBe(true);
  } finally {
    process.off('warning', onWarning);
    await sub?.endAsync();
    await broker.stop();
    await link.close();
  }
}, 60_000);
