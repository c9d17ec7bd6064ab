// Subscriber for the end-to-end MQTT benchmark, in its own process: counts per-metric messages under
// `<filter>` and, when values are send times (ingest-load --stamp), the latency from device send to here.
// Prints one JSON line per second: {"t", "count", "lat": [ms...]}.
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';

const { values } = parseArgs({
  options: { url: { type: 'string' }, username: { type: 'string' }, password: { type: 'string' }, filter: { type: 'string', default: 'hearth/+/+' }, seconds: { type: 'string', default: '10' } },
});
const started = performance.now();
let count = 0;
let lat: number[] = [];
const client = await mqtt.connectAsync(values.url!, { username: values.username, password: values.password, reconnectPeriod: 0 });
client.on('message', (topic, payload) => {
  const leaf = topic.slice(topic.lastIndexOf('/') + 1);
  if (!/^m\d+$/.test(leaf)) return; // per-metric topics only: state, availability and bridge topics are not readings
  count += 1;
  const sent = Number(payload.toString());
  if (sent > 1e12) lat.push(performance.timeOrigin + performance.now() - sent);
});
await client.subscribeAsync(values.filter!, { qos: 0 });
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
setInterval(() => {
  process.stdout.write(`${JSON.stringify({ t: performance.now() - started, count, lat })}\n`);
  lat = [];
}, 1000);
setTimeout(() => process.exit(0), Number(values.seconds) * 1000);
