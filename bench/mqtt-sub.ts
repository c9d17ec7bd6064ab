// Subscriber for the end-to-end MQTT benchmark, in its own process: subscribes to `<filter>`, counts every
// message, counts the readings that arrive on the `<base>/<device>/readings` streams and, when values are send
// times (ingest-load --stamp), the latency from device send to here. Prints one JSON line per second:
// {"t", "count" (stream readings), "messages" (all), "lat": [ms...]}.
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';

const { values } = parseArgs({
  options: { url: { type: 'string' }, username: { type: 'string' }, password: { type: 'string' }, filter: { type: 'string', default: 'hearth/+/readings' }, seconds: { type: 'string', default: '10' } },
});
const started = performance.now();
let count = 0;
let messages = 0;
let lat: number[] = [];
const client = await mqtt.connectAsync(values.url!, { username: values.username, password: values.password, reconnectPeriod: 0 });
client.on('message', (topic, payload) => {
  messages += 1;
  if (!topic.endsWith('/readings')) return;
  const now = performance.timeOrigin + performance.now();
  // The lossless stream: every committed reading, batched per device and turn.
  const batch = JSON.parse(payload.toString()) as { value: number }[];
  count += batch.length;
  for (const r of batch) if (r.value > 1e12) lat.push(now - r.value);
});
// reconnectPeriod 0: a close before the end would leave the counts flat without a word; say it and fail.
client.once('close', () => {
  process.stdout.write(`${JSON.stringify({ closed: true, t: performance.now() - started, count, messages })}\n`);
  process.stderr.write(`mqtt-sub ${values.filter}: the broker closed the connection after ${messages} messages\n`);
  process.exit(2);
});
await client.subscribeAsync(values.filter!, { qos: 0 });
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
setInterval(() => {
  process.stdout.write(`${JSON.stringify({ t: performance.now() - started, count, messages, lat })}\n`);
  lat = [];
}, 1000);
setTimeout(() => process.exit(0), Number(values.seconds) * 1000);
