// Hearth's side of the storage-kill run of `npm run bench -- diy`: devices over wss sending TELEMETRY of one
// reading at a fixed fleet `--rate`, as bench/ingest-load.ts does, with each reading's value its frame's seq
// so that an audit can tell which acked readings reached the database. A device stops when its connection
// closes (the hub was killed); it keeps its unacked frames, as a real device would, but does not resend them
// here: only what was acked is audited. At the end writes `--acked-file` ({device: [acked values]}) and
// prints {"done": true, "sent", "acked"}.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { decode, encode, SUBPROTOCOL } from '../protocol/index.js';
import type { Capability } from '../protocol/types.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    credentials: { type: 'string' },
    rate: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '10' },
    'acked-file': { type: 'string' },
  },
});
const creds = JSON.parse(readFileSync(values.credentials!, 'utf8')) as { devices: { id: string; token: string }[] };
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const caps: Capability[] = [{ id: 1, name: 'temperature', unit: '°C', valueType: 'float', deviceClass: 'temperature', writable: false, event: false }];
const started = performance.now();

interface Dev {
  id: string;
  ws: WebSocket;
  first: number;
  next: number;
  ackedSeq: number;
  open: boolean;
}
const devs: Dev[] = [];
let sent = 0;

function connect(entry: { id: string; token: string }): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${values.url}/v1/devices/${entry.id}`, [SUBPROTOCOL], { headers: { authorization: `Bearer ${entry.token}` }, rejectUnauthorized: false, perMessageDeflate: false });
    const dev: Dev = { id: entry.id, ws, first: 1, next: 1, ackedSeq: 0, open: false };
    ws.on('open', () => ws.send(encode({ type: 'hello', model: 'bench', firmware: '1', lastAckedSeq: 0, capabilities: caps })));
    ws.on('message', (data: Buffer) => {
      const f = decode(new Uint8Array(data));
      if (f.type === 'welcome') {
        dev.first = dev.next = f.nextSeq;
        dev.ackedSeq = f.nextSeq - 1;
        dev.open = true;
        devs.push(dev);
        resolve();
      } else if (f.type === 'ack' && f.seq > dev.ackedSeq) {
        dev.ackedSeq = f.seq;
      }
    });
    ws.on('close', () => (dev.open = false));
    ws.on('error', (err) => {
      process.stderr.write(`device ${entry.id}: ${err.message}\n`);
      resolve();
    });
  });
}

function send(dev: Dev): void {
  if (!dev.open) return;
  const seq = dev.next++;
  sent += 1;
  dev.ws.send(encode({ type: 'telemetry', seq, ts: Date.now(), readings: [{ metric: 1, value: { type: 'float', value: seq } }] }));
}

const acked = (): number => devs.reduce((n, d) => n + d.ackedSeq - d.first + 1, 0);

for (let i = 0; i < creds.devices.length; i += 200) await Promise.all(creds.devices.slice(i, i + 200).map(connect));
process.stdout.write(`${JSON.stringify({ t: performance.now() - started, connectedAll: devs.length })}\n`);
// Every 10 ms, the frames due by the clock (a late timer must not lower the offered rate).
const loadStart = performance.now();
let cursor = 0;
const tick = setInterval(() => {
  const due = Math.floor((rate * (performance.now() - loadStart)) / 1000);
  while (cursor < due) send(devs[cursor++ % devs.length]!);
}, 10);
const report = setInterval(() => process.stdout.write(`${JSON.stringify({ t: performance.now() - started, acked: acked(), connected: devs.filter((d) => d.open).length })}\n`), 1000);
await new Promise<void>((resolve) => {
  const end = setTimeout(resolve, seconds * 1000);
  // Every connection gone (the hub was killed): nothing more can be acked.
  const watch = setInterval(() => {
    if (devs.every((d) => !d.open)) {
      clearTimeout(end);
      clearInterval(watch);
      resolve();
    }
  }, 50);
  end.unref();
});
clearInterval(tick);
clearInterval(report);
if (values['acked-file']) {
  const list = (d: Dev) => Array.from({ length: d.ackedSeq - d.first + 1 }, (_, k) => d.first + k);
  writeFileSync(values['acked-file'], JSON.stringify(Object.fromEntries(devs.map((d) => [d.id, list(d)]))));
}
for (const d of devs) d.ws.terminate();
// Exit once the line is out: a pipe write can still be pending here, and process.exit would drop it.
process.stdout.write(`${JSON.stringify({ t: performance.now() - started, done: true, sent, acked: acked() })}\n`, () => process.exit(0));
