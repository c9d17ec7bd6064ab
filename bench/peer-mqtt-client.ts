// MQTT load for `npm run bench -- peers`, one role per process: `--role pub` publishes QoS 0 readings to
// `--topic` at `--rate` msg/s (0: as fast as the socket takes them, as bench/mqtt.ts does), each payload
// carrying its send time; `--role sub` subscribes to `--filter` and prints one JSON line per second:
// {"t", "count", "lat": [send -> here, ms...]}. Both run for `--seconds`, then exit (the subscriber earlier on
// SIGTERM).
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    url: { type: 'string' },
    topic: { type: 'string', default: 'bench/p0' },
    filter: { type: 'string', default: '#' },
    rate: { type: 'string', default: '0' },
    seconds: { type: 'string', default: '10' },
  },
});
/** Wall-clock ms with sub-ms precision, comparable across processes. */
const now = (): number => performance.timeOrigin + performance.now();
const started = performance.now();
const seconds = Number(values.seconds);
const client = await mqtt.connectAsync(values.url!, { protocolVersion: 4, reconnectPeriod: 0, clean: true });
// bench/mqtt.ts's payload shape, with the send time (sub-ms) as ts: the same 34-38 bytes.
const payload = (): string => `{"value":21.5,"ts":${now().toFixed(3)}}`;

if (values.role === 'sub') {
  let count = 0;
  let lat: number[] = [];
  client.on('message', (_topic, buf) => {
    count += 1;
    // The payload's fixed prefix is `{"value":21.5,"ts":` (19 bytes): read the number without a JSON.parse,
    // so that the subscriber, not the broker, is not what a full-load row measures.
    lat.push(now() - Number(buf.toString('latin1', 19, buf.length - 1)));
  });
  // reconnectPeriod 0: a close before the end would leave the counts flat without a word; say it and fail.
  client.once('close', () => {
    process.stdout.write(`${JSON.stringify({ closed: true, t: performance.now() - started, count })}\n`);
    process.stderr.write(`peer subscriber: the broker closed the connection after ${count} messages\n`);
    process.exit(2);
  });
  await client.subscribeAsync(values.filter!, { qos: 0 });
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  setInterval(() => {
    process.stdout.write(`${JSON.stringify({ t: performance.now() - started, count, lat })}\n`);
    lat = [];
  }, 1000);
  setTimeout(() => process.exit(0), seconds * 1000);
} else {
  const topic = values.topic!;
  const rate = Number(values.rate);
  let sent = 0;
  process.stdout.write(`${JSON.stringify({ started: true })}\n`);
  const end = performance.now() + seconds * 1000;
  if (rate > 0) {
    // One timer: every 10 ms, the messages due by the clock (a late timer must not lower the offered rate).
    const t0 = performance.now();
    const timer = setInterval(() => {
      const due = Math.floor((rate * (performance.now() - t0)) / 1000);
      for (; sent < due; sent++) client.publish(topic, payload(), { qos: 0 });
      if (performance.now() >= end) clearInterval(timer);
    }, 10);
    await new Promise((r) => setTimeout(r, seconds * 1000 + 20));
  } else {
    while (performance.now() < end) {
      // Waiting on every 256th write keeps mqtt.js from buffering the whole run in memory (bench/mqtt.ts).
      if (sent % 256 === 255) await client.publishAsync(topic, payload(), { qos: 0 });
      else client.publish(topic, payload(), { qos: 0 });
      sent += 1;
    }
  }
  await client.endAsync();
  process.stdout.write(`${JSON.stringify({ t: performance.now() - started, sent })}\n`, () => process.exit(0));
}
