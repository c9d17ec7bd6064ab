// The do-it-yourself stack's devices for `npm run bench -- diy`, in one process: `--devices` mqtt.js
// clients, each publishing QoS 1 JSON readings {"metric":"temperature","value":n,"ts":ms} to
// `diy/<device>/temperature` on Mosquitto and counting PUBACKs (which, in this stack, Mosquitto sends before
// anything is stored: that is the point). `value` is the device's counter, so that an audit can tell which
// acked readings reached the database; `ts` is the send time (sub-ms) for the subscriber's commit latency.
// Fixed `--rate` (readings/s over the fleet) or full load (`--window` unacked publishes per device).
// Prints one JSON line per second {"t", "at" (epoch ms), "acked", "connected", "lat": [publish -> PUBACK, ms...]}; at the end
// writes `--acked-file` ({device: [acked values]}) and prints {"done": true, "sent", "acked"}.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    devices: { type: 'string', default: '200' },
    rate: { type: 'string', default: '0' },
    window: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '10' },
    'acked-file': { type: 'string' },
  },
});
const count = Number(values.devices);
const rate = Number(values.rate);
const windowSize = Number(values.window);
const seconds = Number(values.seconds);
const now = (): number => performance.timeOrigin + performance.now();
const started = performance.now();

interface Dev {
  id: string;
  client: MqttClient;
  next: number;
  inFlight: number;
  acked: number[];
}
let acked = 0;
let sent = 0;
let lat: number[] = [];
let running = true;

function publish(dev: Dev): void {
  const value = dev.next++;
  const at = now();
  dev.inFlight += 1;
  sent += 1;
  dev.client.publish(`diy/${dev.id}/temperature`, `{"metric":"temperature","value":${value},"ts":${at.toFixed(3)}}`, { qos: 1 }, (err) => {
    dev.inFlight -= 1;
    if (err) return;
    acked += 1;
    dev.acked.push(value);
    if (rate > 0) lat.push(now() - at);
    else if (running) pump(dev);
  });
}

function pump(dev: Dev): void {
  while (running && dev.inFlight < windowSize) publish(dev);
}

const devs: Dev[] = [];
// Connect in waves, as bench/ingest-load.ts does.
for (let i = 0; i < count; i += 100) {
  const wave = Array.from({ length: Math.min(100, count - i) }, (_, k) => `d${i + k}`);
  devs.push(
    ...(await Promise.all(
      wave.map(async (id) => ({ id, client: await mqtt.connectAsync(values.url!, { protocolVersion: 4, clientId: `diy-${id}`, clean: true, reconnectPeriod: 0 }), next: 1, inFlight: 0, acked: [] as number[] })),
    )),
  );
}
process.stdout.write(`${JSON.stringify({ t: performance.now() - started, at: Date.now(), connectedAll: devs.length })}\n`);
const loadStart = performance.now();
let tick: NodeJS.Timeout | undefined;
if (rate > 0) {
  // Every 10 ms, the readings due by the clock (a late timer must not lower the offered rate).
  let cursor = 0;
  tick = setInterval(() => {
    const due = Math.floor((rate * (performance.now() - loadStart)) / 1000);
    while (cursor < due) publish(devs[cursor++ % devs.length]!);
  }, 10);
} else {
  for (const d of devs) pump(d);
}
const report = setInterval(() => {
  process.stdout.write(`${JSON.stringify({ t: performance.now() - started, at: Date.now(), acked, connected: devs.length, lat })}\n`);
  lat = [];
}, 1000);
await new Promise((r) => setTimeout(r, seconds * 1000 - (performance.now() - loadStart)));
running = false;
if (tick) clearInterval(tick);
// PUBACKs still in flight get a moment to arrive; what has none by then counts as not delivered.
const deadline = performance.now() + 2000;
while (devs.some((d) => d.inFlight > 0) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
clearInterval(report);
if (values['acked-file']) writeFileSync(values['acked-file'], JSON.stringify(Object.fromEntries(devs.map((d) => [d.id, d.acked]))));
for (const d of devs) d.client.end(true);
// Exit once the line is out: a pipe write can still be pending here, and process.exit would drop it.
process.stdout.write(`${JSON.stringify({ t: performance.now() - started, done: true, sent, acked })}\n`, () => process.exit(0));
