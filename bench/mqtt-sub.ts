// Subscriber for the end-to-end MQTT benchmark, in its own process: counts the readings that arrive on the
// `<base>/<device>/readings` streams under `<filter>` and, when values are send times (ingest-load --stamp),
// the latency from device send to here. Prints one JSON line per second: {"t", "count", "latest", "lat": [ms...]}.
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';

const { values } = parseArgs({
  options: { url: { type: 'string' }, username: { type: 'string' }, password: { type: 'string' }, filter: { type: 'string', default: 'hearth/+/+' }, seconds: { type: 'string', default: '10' } },
});
const started = performance.now();
let count = 0;
let lat: number[] = [];
const client = await mqtt.connectAsync(values.url!, { username: values.username, password: values.password, reconnectPeriod: 0 });
let latest = 0;
client.on('message', (topic, payload) => {
  const leaf = topic.slice(topic.lastIndexOf('/') + 1);
  const now = performance.timeOrigin + performance.now();
  if (leaf === 'readings') {
    // The lossless stream: every committed reading, batched per device and turn.
    const batch = JSON.parse(payload.toString()) as { value: number }[];
    count += batch.length;
    for (const r of batch) if (r.value > 1e12) lat.push(now - r.value);
  } else if (/^m\d+$/.test(leaf)) {
    latest += 1; // current-value topics (coalesced under load)
  }
});
await client.subscribeAsync(values.filter!, { qos: 0 });
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
setInterval(() => {
  process.stdout.write(`${JSON.stringify({ t: performance.now() - started, count, latest, lat })}\n`);
  lat = [];
}, 1000);
setTimeout(() => process.exit(0), Number(values.seconds) * 1000);
