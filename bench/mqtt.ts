// MQTT throughput benchmarks. The broker (and the bridge) run in this process; the load generators and the
// subscriber run as child processes of this same file (`--child <role>`), because measuring in-process
// makes the subscriber compete with the broker for one event loop (aedes fan-out: ~6k msg/s in-process vs
// ~100k msg/s with the subscriber in its own process).
//
//   (1) baseline: mqtt.js publishers -> bare aedes over TCP -> one subscriber on '#'
//   (2) bridge: readings announced on the hub's EventBus (real registry, BridgeFacade) -> MqttBridge ->
//       subscriber on 'hearth/#'
//   (3) /mqtt over WebSocket: websocket-stream vs ws's createWebSocketStream, publishers on TCP, the
//       subscriber on WebSocket
//
// Run alone: npx esbuild bench/mqtt.ts --bundle --platform=node --format=esm --packages=external \
//   --outfile=dist/bench/mqtt.js && node dist/bench/mqtt.js   (BENCH_MESSAGES=n to change the load)
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Aedes } from 'aedes';
import { connectAsync, type MqttClient } from 'mqtt';
import websocketStream from 'websocket-stream';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { MqttBridge } from '../hub/mqtt/mqtt-bridge.js';
import type { Capability } from '../protocol/types.js';
import { BridgeFacade } from './bridge-facade.js';

export interface MqttBenchRow {
  name: string;
  /** What was counted: MQTT messages or hub readings. */
  unit: 'msg/s' | 'readings/s';
  rate: number;
  count: number;
  ms: number;
  note: string;
}

export interface MqttBenchOptions {
  /** Messages per publisher in (1) and (3); readings in (2). Default 100000. */
  messages?: number;
  /** Publisher processes in (1) and (3). Default 1 (the machine has 2 cores: broker + publisher + subscriber). */
  publishers?: number;
  /** Devices the readings of (2) are spread over. Default 50. */
  devices?: number;
}

const SELF = fileURLToPath(import.meta.url);
const PAYLOAD = '{"value":21.5,"ts":1767225600000}';
const CHILD_TIMEOUT_MS = 120_000;
/** A thermostat's capabilities: a reading and a writable setpoint. */
const THERMOSTAT: Capability[] = [
  { id: 1, name: 'temperature', unit: '°C', valueType: 'float', deviceClass: 'temperature', writable: false, event: false },
  { id: 2, name: 'setpoint', unit: '°C', valueType: 'float', deviceClass: 'temperature', writable: true, event: false, min: 5, max: 30 },
];
/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
const now = (): number => performance.timeOrigin + performance.now();

/** Runs the three MQTT benchmarks and returns one row each (plus a markdown table via formatTable). */
export async function runMqttBench(opts: MqttBenchOptions = {}): Promise<MqttBenchRow[]> {
  const messages = opts.messages ?? 100_000;
  const publishers = opts.publishers ?? 1;
  const rows: MqttBenchRow[] = [];
  const step = async (run: () => Promise<MqttBenchRow>) => {
    const row = await run();
    process.stderr.write(`${row.name}: ${Math.round(row.rate)} ${row.unit}\n`);
    rows.push(row);
  };
  await step(() => benchBareAedes(messages, publishers));
  await step(() => benchBridge(messages, opts.devices ?? 50));
  // Many devices: each turn's events are for distinct devices, so nothing coalesces within a turn.
  await step(() => benchBridge(messages, 2000));
  await step(() => benchWebSocket('websocket-stream', messages, publishers));
  await step(() => benchWebSocket('ws createWebSocketStream', messages, publishers));
  return rows;
}

/** The rows as a markdown table. */
export function formatTable(rows: MqttBenchRow[]): string {
  const lines = ['| benchmark | rate | count | time | note |', '| --- | ---: | ---: | ---: | --- |'];
  for (const r of rows) {
    lines.push(`| ${r.name} | ${Math.round(r.rate).toLocaleString('en-US')} ${r.unit} | ${r.count} | ${r.ms} ms | ${r.note} |`);
  }
  return lines.join('\n');
}

async function benchBareAedes(messages: number, publishers: number): Promise<MqttBenchRow> {
  const broker = await Aedes.createBroker();
  const server = net.createServer(broker.handle);
  await listen(server);
  try {
    const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const r = await fanIn(url, url, '#', messages, publishers);
    return { name: '(1) bare aedes, TCP', unit: 'msg/s', ...r, note: `${publishers} publisher process(es), QoS 0, subscriber on #` };
  } finally {
    await closeBroker(broker, server);
  }
}

async function benchWebSocket(kind: 'websocket-stream' | 'ws createWebSocketStream', messages: number, publishers: number): Promise<MqttBenchRow> {
  const broker = await Aedes.createBroker();
  const tcp = net.createServer(broker.handle);
  const web = http.createServer();
  const maxPayload = 256 * 1024;
  let wss: { close: (cb?: () => void) => void };
  if (kind === 'websocket-stream') {
    const s = (websocketStream as any).createServer({ server: web, path: '/mqtt', maxPayload });
    s.on('stream', (stream: any, req: http.IncomingMessage) => broker.handle(stream, req));
    wss = s;
  } else {
    const s = new WebSocketServer({ server: web, path: '/mqtt', maxPayload });
    s.on('connection', (ws, req) => broker.handle(createWebSocketStream(ws), req));
    wss = s;
  }
  await listen(tcp);
  await listen(web);
  try {
    const pubUrl = `mqtt://127.0.0.1:${(tcp.address() as AddressInfo).port}`;
    const subUrl = `ws://127.0.0.1:${(web.address() as AddressInfo).port}/mqtt`;
    const r = await fanIn(pubUrl, subUrl, '#', messages, publishers);
    return { name: `(3) /mqtt over ${kind}`, unit: 'msg/s', ...r, note: 'publishers on TCP, subscriber on WebSocket' };
  } finally {
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    web.closeAllConnections();
    await new Promise<void>((resolve) => web.close(() => resolve()));
    await closeBroker(broker, tcp);
  }
}

async function benchBridge(readings: number, devices: number): Promise<MqttBenchRow> {
  const facade = new BridgeFacade();
  for (let i = 0; i < devices; i++) facade.addDevice(`dev${i}`, 'thermostat', THERMOSTAT);
  // The burst (all readings as fast as the bus takes them) outruns one mqtt.js subscriber by more than the
  // default 8 MiB a client may fall behind (mqtt.maxClientBacklogBytes), which closes it, as it should in a hub.
  // This row measures the bridge's throughput, so its one subscriber may hold the whole burst.
  const limits = { maxClientBacklogBytes: 256 * 1024 * 1024 };
  const bridge = new MqttBridge({ facade, auth: { authorize: async () => null }, allowAnonymous: true, tcpPort: 0, tlsPort: null, limits });
  await bridge.start();
  try {
    const url = `mqtt://127.0.0.1:${bridge.addresses().tcp!.port}`;
    const sub = child('bridge-sub', { url, filter: 'hearth/#', devices, finalTs: readings });
    await waitReady(sub);
    // Listening before the first reading: the subscriber can finish (and exit) while the last turn is emitted.
    const finished = result(sub);
    finished.catch(() => undefined); // awaited after the burst; a failure meanwhile is not unhandled
    // Like the gateway's group commits: each turn of the event loop commits one reading per device.
    const t0 = now();
    for (let n = 1; n <= readings; ) {
      for (let k = 0; k < devices && n <= readings; k++, n++) {
        facade.commit(`dev${n % devices}`, [{ metric: 'temperature', value: { type: 'float', value: n / 100 }, ts: n }]);
      }
      await new Promise((r) => setImmediate(r));
    }
    const pushMs = now() - t0;
    const done = await finished;
    const ms = Math.max(1, Math.round(done.doneAt - t0));
    return {
      name: `(2) bridge, ${devices} devices: EventBus readings -> hearth/#`,
      unit: 'readings/s',
      rate: (readings / ms) * 1000,
      count: readings,
      ms,
      note: `1 reading per device per event-loop turn; the subscriber got ${done.count} messages (${Math.round((done.count / ms) * 1000)} msg/s; state publishes coalesce when the bridge lags); emitting took ${Math.round(pushMs)} ms`,
    };
  } finally {
    await bridge.stop();
    facade.close();
  }
}

/** One subscriber child on subUrl, then `publishers` publisher children on pubUrl; rate seen by the subscriber. */
async function fanIn(pubUrl: string, subUrl: string, filter: string, messages: number, publishers: number) {
  const total = messages * publishers;
  const sub = child('sub', { url: subUrl, filter, expected: total });
  await waitReady(sub);
  const received = result(sub);
  received.catch(() => undefined); // awaited after the publishers start; a failure meanwhile is not unhandled
  const t0 = now();
  const pubs = Array.from({ length: publishers }, (_, i) => child('pub', { url: pubUrl, messages, topic: `bench/p${i}` }));
  const published = pubs.map((p) => result(p));
  const done = await received;
  await Promise.all(published);
  await Promise.all(pubs.map((p) => stopChild(p)));
  // From the first message received, so that publisher start-up (a process) is not counted.
  const ms = Math.max(1, Math.round(done.doneAt - Math.max(t0, done.firstAt)));
  return { rate: (done.count / ms) * 1000, count: done.count, ms };
}

// ---- child processes -------------------------------------------------------------------------------

interface ChildResult {
  count: number;
  firstAt: number;
  doneAt: number;
}

function child(role: string, args: object): ChildProcess {
  return fork(SELF, ['--child', role, JSON.stringify(args)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function stopChild(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  p.send('stop');
  return exited;
}

function waitReady(p: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    p.once('message', (m: { ready?: boolean }) => (m.ready ? resolve() : reject(new Error('child not ready'))));
    p.once('exit', (code) => reject(new Error(`child exited ${code} before ready`)));
  });
}

function result(p: ChildProcess): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      p.kill();
      reject(new Error('benchmark child timed out'));
    }, CHILD_TIMEOUT_MS);
    p.on('message', (m: ChildResult & { ready?: boolean }) => {
      if (m.ready) return;
      clearTimeout(timer);
      resolve(m);
    });
    p.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`benchmark child exited ${code}`));
    });
    // The IPC channel closes after every message sent on it was read: no result by then means none was sent.
    p.once('disconnect', () => setImmediate(() => reject(new Error('benchmark child exited without a result'))));
  });
}

async function childMain(role: string, args: Record<string, unknown>): Promise<void> {
  const send = (m: object) => new Promise<void>((resolve) => process.send!(m, () => resolve()));
  const client: MqttClient = await connectAsync(String(args['url']), { protocolVersion: 4, reconnectPeriod: 0, clean: true });
  if (role === 'pub') {
    const n = Number(args['messages']);
    const topic = String(args['topic']);
    const t0 = now();
    for (let i = 0; i < n; i++) {
      // Waiting on every 256th write keeps mqtt.js from buffering the whole run in memory.
      if (i % 256 === 255) await client.publishAsync(topic, PAYLOAD, { qos: 0 });
      else client.publish(topic, PAYLOAD, { qos: 0 });
    }
    await send({ count: n, firstAt: t0, doneAt: now() });
    // Disconnecting now could drop publishes aedes has read but not yet routed: wait for the parent.
    await new Promise((resolve) => process.once('message', resolve));
    await client.endAsync();
    return;
  }
  let count = 0;
  let firstAt = 0;
  const finish = async () => {
    await send({ count, firstAt, doneAt: now() });
    await client.endAsync(true);
  };
  const finished = new Promise<void>((resolve, reject) => {
    // reconnectPeriod 0: a close ends the run. Left silent, the process would exit 0 with nothing sent.
    client.once('close', () => reject(new Error(`the broker closed the subscriber after ${count} messages (a client this far behind is closed by mqtt.maxClientBacklogBytes)`)));
    if (role === 'sub') {
      const expected = Number(args['expected']);
      client.on('message', () => {
        if (count++ === 0) firstAt = now();
        if (count === expected) resolve();
      });
    } else {
      // bridge-sub: done when every device's state shows the last reading's ts (publishes may be coalesced).
      const finalTs = Number(args['finalTs']);
      const devices = Number(args['devices']);
      const lastOf = (i: number) => finalTs - ((finalTs - i) % devices + devices) % devices;
      const pending = new Set(Array.from({ length: devices }, (_, i) => i).filter((i) => lastOf(i) >= 1).map((i) => `dev${i}`));
      client.on('message', (topic, payload) => {
        if (count++ === 0) firstAt = now();
        const [, id, leaf] = topic.split('/');
        if (leaf !== 'state' || id === undefined || id === 'bridge') return;
        const ts = (JSON.parse(payload.toString()) as { temperature?: { ts: number } }).temperature?.ts ?? 0;
        if (ts === lastOf(Number(id.slice(3)))) pending.delete(id);
        if (pending.size === 0) resolve();
      });
    }
  });
  await client.subscribeAsync(String(args['filter']), { qos: 0 });
  await send({ ready: true });
  await finished;
  await finish();
}

function listen(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
}

async function closeBroker(broker: Aedes, server: net.Server): Promise<void> {
  await new Promise<void>((resolve) => broker.close(() => resolve()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const i = process.argv.indexOf('--child');
  if (i !== -1) {
    childMain(process.argv[i + 1]!, JSON.parse(process.argv[i + 2]!) as Record<string, unknown>).then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  } else {
    const messages = process.env['BENCH_MESSAGES'] ? Number(process.env['BENCH_MESSAGES']) : undefined;
    runMqttBench(messages !== undefined ? { messages } : {}).then(
      (rows) => console.log(formatTable(rows)),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  }
}
