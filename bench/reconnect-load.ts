// Load generator for the reconnect benchmark, run in its own process: keeps every device of its credentials
// slice connected over wss, reconnecting after 100-500 ms (jittered, as firmware backs off) whenever a
// connection ends. Prints one JSON line per second, {"t", "welcomed": [devices with >= 1, >= 2, ... WELCOMEs]},
// and {"allWelcomedAt": <epoch ms>, "round": k} the moment every device of the slice got its k-th WELCOME.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { decode, encode, SUBPROTOCOL } from '../protocol/index.js';
import type { Capability } from '../protocol/types.js';

const { values } = parseArgs({ options: { url: { type: 'string' }, credentials: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } } });
const all = (JSON.parse(readFileSync(values.credentials!, 'utf8')) as { devices: { id: string; token: string }[] }).devices;
const slice = all.slice(Number(values.from), Number(values.to));
const caps: Capability[] = [{ id: 1, name: 'temperature', unit: '°C', valueType: 'float', deviceClass: 'temperature', writable: false, event: false }];
const started = performance.now();
/** welcomes[k] = devices that got at least k+1 WELCOMEs. */
const welcomes: number[] = [];

function connect(entry: { id: string; token: string }, got: { n: number }): void {
  const ws = new WebSocket(`${values.url}/v1/devices/${entry.id}`, [SUBPROTOCOL], {
    headers: { authorization: `Bearer ${entry.token}` },
    rejectUnauthorized: false,
    perMessageDeflate: false,
  });
  let retried = false;
  const retry = () => {
    if (retried) return;
    retried = true;
    setTimeout(() => connect(entry, got), 100 + Math.random() * 400);
  };
  ws.on('open', () => ws.send(encode({ type: 'hello', model: 'bench', firmware: '1', lastAckedSeq: 0, capabilities: caps })));
  ws.on('message', (data: Buffer) => {
    if (decode(new Uint8Array(data)).type !== 'welcome') return;
    got.n += 1;
    welcomes[got.n - 1] = (welcomes[got.n - 1] ?? 0) + 1;
    if (welcomes[got.n - 1] === slice.length) process.stdout.write(`${JSON.stringify({ allWelcomedAt: Date.now(), round: got.n })}\n`);
  });
  ws.on('close', retry);
  ws.on('error', () => ws.terminate());
}

// Connect in waves so the first round's TLS handshakes do not all queue at once; reconnects are not paced.
let i = 0;
const wave = setInterval(() => {
  for (const entry of slice.slice(i, i + 250)) connect(entry, { n: 0 });
  i += 250;
  if (i >= slice.length) clearInterval(wave);
}, 50);
setInterval(() => process.stdout.write(`${JSON.stringify({ t: performance.now() - started, welcomed: welcomes })}\n`), 1000);
