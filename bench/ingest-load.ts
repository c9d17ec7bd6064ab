// Load generator for the ingest benchmark, run in its own process: N devices over wss, each keeping a window
// of unacknowledged TELEMETRY frames in flight (throughput mode) or sending at a fixed rate (latency mode).
// Prints one JSON line per second: {"t": ms, "acked": readings acked so far, "connected": n, "lat": [...]}.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { everyDue } from './paced.js';
import { decode, encode, SUBPROTOCOL } from '../protocol/index.js';
import type { Capability, Reading } from '../protocol/types.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    credentials: { type: 'string' },
    readings: { type: 'string', default: '8' },
    window: { type: 'string', default: '8' },
    rate: { type: 'string', default: '0' },
    seconds: { type: 'string', default: '10' },
    // Rate mode: how often the fleet's due frames go out, ms; 1 spreads them as independent devices would.
    tick: { type: 'string', default: '10' },
    idle: { type: 'boolean', default: false },
    // Each reading's value is its send time (ms since the epoch, sub-ms precision), for latency seen downstream.
    stamp: { type: 'boolean', default: false },
  },
});
const creds = JSON.parse(readFileSync(values.credentials!, 'utf8')) as { devices: { id: string; token: string }[] };
const perFrame = Number(values.readings);
const windowSize = Number(values.window);
const totalRate = Number(values.rate); // readings/s across the fleet; 0 = as fast as acks allow
const seconds = Number(values.seconds);

const caps: Capability[] = Array.from({ length: perFrame }, (_, i) => ({
  id: i + 1, name: `m${i + 1}`, unit: '', valueType: 'float' as const, deviceClass: '', writable: false, event: false,
}));

let acked = 0;
let connected = 0;
let latencies: number[] = [];
const started = performance.now();

interface Dev {
  ws: WebSocket;
  next: number;
  ackedSeq: number;
  sentAt: Map<number, number>;
}
const devices: Dev[] = [];

function frame(dev: Dev): Uint8Array {
  const readings: Reading[] = caps.map((c) => ({
    metric: c.id,
    value: { type: 'float', value: values.stamp ? performance.timeOrigin + performance.now() : 20 + Math.random() },
  }));
  return encode({ type: 'telemetry', seq: dev.next, ts: Date.now(), readings });
}

function pump(dev: Dev): void {
  while (dev.next - dev.ackedSeq <= windowSize) {
    if (totalRate > 0) dev.sentAt.set(dev.next, performance.now());
    dev.ws.send(frame(dev));
    dev.next += 1;
    if (totalRate > 0) return; // rate mode: one frame per tick
  }
}

function open(entry: { id: string; token: string }): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${values.url}/v1/devices/${entry.id}`, [SUBPROTOCOL], {
      headers: { authorization: `Bearer ${entry.token}` },
      rejectUnauthorized: false,
      perMessageDeflate: false,
    });
    const dev: Dev = { ws, next: 1, ackedSeq: 0, sentAt: new Map() };
    ws.on('open', () => ws.send(encode({ type: 'hello', model: 'bench', firmware: '1', lastAckedSeq: 0, capabilities: caps })));
    ws.on('message', (data: Buffer) => {
      const f = decode(new Uint8Array(data));
      if (f.type === 'welcome') {
        dev.next = f.nextSeq;
        dev.ackedSeq = f.nextSeq - 1;
        connected += 1;
        devices.push(dev);
        resolve();
        if (!values.idle && totalRate === 0) pump(dev);
      } else if (f.type === 'ack') {
        if (f.seq > dev.ackedSeq) {
          acked += (f.seq - dev.ackedSeq) * perFrame;
          if (totalRate > 0) {
            const now = performance.now();
            for (let s = dev.ackedSeq + 1; s <= f.seq; s++) {
              const t = dev.sentAt.get(s);
              if (t !== undefined) latencies.push(now - t);
              dev.sentAt.delete(s);
            }
          }
          dev.ackedSeq = f.seq;
        }
        if (!values.idle && totalRate === 0) pump(dev);
      }
    });
    ws.on('error', (err) => {
      process.stderr.write(`device ${entry.id}: ${err.message}\n`);
      resolve();
    });
  });
}

async function main(): Promise<void> {
  // Connect in waves so the TLS handshakes do not all queue at once.
  const wave = 200;
  for (let i = 0; i < creds.devices.length; i += wave) await Promise.all(creds.devices.slice(i, i + wave).map(open));
  process.stdout.write(`${JSON.stringify({ t: performance.now() - started, connectedAll: connected })}\n`);
  if (totalRate > 0) {
    // Every tick (default 10 ms), the frames due, spread over the devices.
    everyDue(totalRate / perFrame, Number(values.tick), (i) => pump(devices[i % devices.length]!));
  }
  const tick = () => {
    process.stdout.write(`${JSON.stringify({ t: performance.now() - started, acked, connected, lat: latencies, rss: process.memoryUsage().rss })}\n`);
    latencies = [];
  };
  setInterval(tick, 1000);
  // A last line at exit: the acks of the last half second count too (bench/scale.ts compares them with the database).
  setTimeout(() => (tick(), process.exit(0)), seconds * 1000 + 500);
}

void main();
