// The do-it-yourself stack's storage process, as a competent user would write it (the peer of Hearth's
// ingest in `npm run bench -- diy`): one mqtt.js client with a persistent session (clean false, fixed
// client id) and a QoS 1 subscription to the devices' JSON readings on Mosquitto, inserting them into SQLite
// with better-sqlite3 (WAL, synchronous NORMAL as Hearth's default, one transaction per 10 ms or per 1,000
// messages). mqtt.js PUBACKs a message to Mosquitto when its handler returns, before the batch commits:
// what the library does unless the user rewires handleMessage. This peer program uses better-sqlite3 itself
// on purpose: it stands for code outside Hearth.
//
// Prints one JSON line per second: {"t", "at" (epoch ms), "rows", "lat": [publish -> row committed, ms...]}; on SIGTERM it
// commits what it holds and exits 0. `--audit <acked.json>` instead reads the database and prints
// {"rows", "missing", "duplicates"}: acked readings (per device, the values the device counted PUBACKs for)
// absent from the table, and rows beyond the first of each (device, value).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    db: { type: 'string' },
    'client-id': { type: 'string', default: 'diy-recorder' },
    filter: { type: 'string', default: 'diy/+/temperature' },
    'batch-ms': { type: 'string', default: '10' },
    'batch-max': { type: 'string', default: '1000' },
    audit: { type: 'string' },
  },
});

const db = new Database(values.db!);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec(`CREATE TABLE IF NOT EXISTS readings (
  device TEXT NOT NULL, metric TEXT NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS readings_by_series ON readings (device, metric, ts);`);

if (values.audit !== undefined) {
  const acked = JSON.parse(readFileSync(values.audit, 'utf8')) as Record<string, number[]>;
  const rows = db.prepare('SELECT count(*) FROM readings').pluck().get() as number;
  const byDevice = db.prepare('SELECT value, count(*) FROM readings WHERE device = ? GROUP BY value').raw();
  let missing = 0;
  let duplicates = 0;
  let ackedTotal = 0;
  for (const [device, list] of Object.entries(acked)) {
    const stored = new Map((byDevice.all(device) as [number, number][]).map(([v, n]) => [v, n]));
    ackedTotal += list.length;
    for (const v of list) if (!stored.has(v)) missing += 1;
    for (const n of stored.values()) duplicates += n - 1;
  }
  db.close();
  // Exit once the line is out: process.exit would drop a pipe write still pending.
  process.stdout.write(`${JSON.stringify({ rows, acked: ackedTotal, missing, duplicates })}\n`, () => process.exit(0));
  await new Promise(() => {});
}

const insert = db.prepare('INSERT INTO readings (device, metric, ts, value) VALUES (?, ?, ?, ?)');
interface Row {
  device: string;
  metric: string;
  sentAt: number;
  value: number;
}
const insertAll = db.transaction((rows: Row[]) => {
  for (const r of rows) insert.run(r.device, r.metric, Math.floor(r.sentAt), r.value);
});
const now = (): number => performance.timeOrigin + performance.now();
const batchMs = Number(values['batch-ms']);
const batchMax = Number(values['batch-max']);
let pending: Row[] = [];
let timer: NodeJS.Timeout | undefined;
let rows = 0;
let lat: number[] = [];

function flush(): void {
  if (timer) clearTimeout(timer);
  timer = undefined;
  if (pending.length === 0) return;
  const batch = pending;
  pending = [];
  insertAll(batch);
  rows += batch.length;
  const at = now();
  for (const r of batch) lat.push(at - r.sentAt);
}

const client = await mqtt.connectAsync(values.url!, { protocolVersion: 4, clientId: values['client-id']!, clean: false, reconnectPeriod: 0 });
client.on('message', (topic, payload) => {
  const r = JSON.parse(payload.toString()) as { metric: string; value: number; ts: number };
  pending.push({ device: topic.split('/')[1]!, metric: r.metric, sentAt: r.ts, value: r.value });
  if (pending.length >= batchMax) flush();
  else timer ??= setTimeout(flush, batchMs);
});
// On a resumed session the subscription is still there; subscribing again is harmless.
await client.subscribeAsync(values.filter!, { qos: 1 });
const started = performance.now();
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
setInterval(() => {
  process.stdout.write(`${JSON.stringify({ t: performance.now() - started, at: Date.now(), rows, lat })}\n`);
  lat = [];
}, 1000);
process.once('SIGTERM', () => {
  // Stop receiving first, so that nothing arrives (and is PUBACKed) after the last commit.
  client.end(true, {}, () => {
    flush();
    db.close();
    process.stdout.write(`${JSON.stringify({ t: performance.now() - started, rows, stopped: true })}\n`, () => process.exit(0));
  });
});
