// The subscription storm of issue #11 §3: one persistent session sending 10 SUBSCRIBEs of 1,000 filters
// each while the broker holds the retained tree of many devices. Measured against the embedded broker (with
// the guard: caps and O(n) SUBSCRIBE handling) and, in the same run, against a bare aedes holding the same
// retained topics (what the hub did before). The subscriber runs in-process on purpose: what is measured is
// how long the broker's process cannot serve anything else (event-loop delay), not throughput.
//
//   npm run bench -- mqtt-subscribe        (BENCH_SUB_DEVICES=n to change the retained tree)
import net, { type AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Aedes } from 'aedes';
import { connectAsync, type MqttClient } from 'mqtt';
import { MqttBridge } from '../hub/mqtt/mqtt-bridge.js';
import type { Capability } from '../protocol/types.js';
import { BridgeFacade } from './bridge-facade.js';

export interface SubscribeBenchRow {
  name: string;
  retained: number;
  /** Wall time from the first SUBSCRIBE to the last SUBACK. */
  ms: number;
  /** Filters granted of the 10,000 sent. */
  granted: number;
  loopMaxMs: number;
  loopP99Ms: number;
}

const PACKETS = 10;
const FILTERS = 1000;
const THERMOSTAT: Capability[] = [
  { id: 1, name: 'temperature', unit: '°C', valueType: 'float', deviceClass: 'temperature', writable: false, event: false },
  { id: 2, name: 'setpoint', unit: '°C', valueType: 'float', deviceClass: 'temperature', writable: true, event: false, min: 5, max: 30 },
];

/** The storm on `url`: 10 SUBSCRIBEs of 1,000 filters from a persistent session, with the loop delay meanwhile. */
async function storm(url: string): Promise<Omit<SubscribeBenchRow, 'name' | 'retained'>> {
  const client: MqttClient = await connectAsync(url, { clientId: 'storm', clean: false, reconnectPeriod: 0 });
  const delay = monitorEventLoopDelay({ resolution: 5 });
  let granted = 0;
  delay.enable();
  const t0 = performance.now();
  for (let p = 0; p < PACKETS; p++) {
    const filters = Array.from({ length: FILTERS }, (_, i) => `storm/${p}/${i}/+`);
    // The callback form: mqtt.js rejects the promise form when any filter is refused.
    const answers = await new Promise<{ qos: number }[]>((resolve) => client.subscribe(filters, (_err, g) => resolve((g ?? []) as { qos: number }[])));
    granted += answers.filter((a) => a.qos !== 128).length;
  }
  const ms = Math.round(performance.now() - t0);
  delay.disable();
  await client.endAsync(true);
  return { ms, granted, loopMaxMs: Math.round(delay.max / 1e6), loopP99Ms: Math.round(delay.percentile(99) / 1e6) };
}

/** Runs the storm against the embedded broker and against a bare aedes with the same retained topics. */
export async function runSubscribeBench(opts: { devices?: number } = {}): Promise<SubscribeBenchRow[]> {
  const devices = opts.devices ?? Number(process.env['BENCH_SUB_DEVICES'] ?? 500);
  const facade = new BridgeFacade();
  for (let i = 0; i < devices; i++) facade.addDevice(`dev${i}`, 'thermostat', THERMOSTAT);
  const bridge = new MqttBridge({ facade, auth: { authorize: async () => null }, allowAnonymous: true, tcpPort: 0, tlsPort: null });
  await bridge.start();
  await bridge.idle();
  const rows: SubscribeBenchRow[] = [];
  const retained: string[] = [];
  try {
    const url = `mqtt://127.0.0.1:${bridge.addresses().tcp!.port}`;
    // The retained tree as a client sees it, to load the same topics into the bare broker.
    const probe = await connectAsync(url, { reconnectPeriod: 0 });
    probe.on('message', (topic, _p, packet) => packet.retain && retained.push(topic));
    await probe.subscribeAsync('#');
    // Retained messages arrive right after the SUBACK; done once none came for 250 ms.
    for (let seen = -1; seen !== retained.length; ) {
      seen = retained.length;
      await new Promise((r) => setTimeout(r, 250));
    }
    await probe.endAsync(true);
    rows.push({ name: 'embedded broker (guard: 500 a SUBSCRIBE, 1,000 a client)', retained: retained.length, ...(await storm(url)) });
  } finally {
    await bridge.stop();
    facade.close();
  }
  const broker = await Aedes.createBroker({});
  const server = net.createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    for (const topic of retained) {
      await new Promise<void>((resolve) => broker.publish({ cmd: 'publish', topic, payload: Buffer.from('{}'), qos: 0, retain: true, dup: false }, () => resolve()));
    }
    const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    rows.push({ name: 'bare aedes 2.0.0-beta.1 (before)', retained: retained.length, ...(await storm(url)) });
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await new Promise<void>((resolve) => broker.close(() => resolve()));
  }
  return rows;
}

/** The rows as a markdown table. */
export function formatSubscribeBench(rows: SubscribeBenchRow[]): string {
  const lines = [
    `MQTT subscription storm: one persistent session, ${PACKETS} SUBSCRIBEs of ${FILTERS} filters, subscriber in-process`,
    '',
    '| broker | retained topics | all SUBACKs | filters granted | loop delay max | loop delay p99 |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.name} | ${r.retained} | ${r.ms} ms | ${r.granted} | ${r.loopMaxMs} ms | ${r.loopP99Ms} ms |`),
  ];
  return lines.join('\n');
}
