// Load generator for the reconnect benchmark, run in its own process: keeps every device of its credentials
// slice connected over wss and, whenever a connection ends or fails, reconnects as firmware-protocol.md asks:
// exponential backoff with full jitter [FP-10.6] (device-sim's Backoff), no sooner than a 503's Retry-After
// [FP-10.7], resuming its TLS session when the hub offers that [FP-2.6]. Prints one JSON line per second,
// {"t", "welcomed": [devices with >= 1, >= 2, ... WELCOMEs], "outcomes": {why attempts ended: count}}, and
// {"allWelcomedAt": <epoch ms>, "round": k} the moment every device of the slice got its k-th WELCOME.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { Backoff } from '../device-sim/backoff.js';
import { Rng } from '../device-sim/rng.js';
import { decode, encode, SUBPROTOCOL } from '../protocol/index.js';
import type { Capability } from '../protocol/types.js';

const { values } = parseArgs({ options: { url: { type: 'string' }, credentials: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } } });
const all = (JSON.parse(readFileSync(values.credentials!, 'utf8')) as { devices: { id: string; token: string }[] }).devices;
const slice = all.slice(Number(values.from), Number(values.to));
const caps: Capability[] = [{ id: 1, name: 'temperature', unit: '°C', valueType: 'float', deviceClass: 'temperature', writable: false, event: false }];
const started = performance.now();
/** welcomes[k] = devices that got at least k+1 WELCOMEs. */
const welcomes: number[] = [];
/** Why attempts ended, by kind ("http 503", "close 1006", "error ECONNRESET"), and how many TLS sessions resumed. */
const outcomes: Record<string, number> = {};
const count = (kind: string) => (outcomes[kind] = (outcomes[kind] ?? 0) + 1);

interface Device {
  id: string;
  token: string;
  welcomes: number;
  backoff: Backoff;
  /** The TLS session the hub last gave this device (a ticket), offered on the next connect. */
  session: Buffer | undefined;
}

function connect(d: Device): void {
  let floorMs = 0;
  const ws = new WebSocket(`${values.url}/v1/devices/${d.id}`, [SUBPROTOCOL], {
    headers: { authorization: `Bearer ${d.token}` },
    perMessageDeflate: false,
    // ws's own TLS connect, plus the session kept per device (as a device keeps it in RAM).
    createConnection: ((opts: tls.ConnectionOptions) => {
      const host = String(opts.host ?? '');
      const socket = tls.connect({ ...opts, servername: isIP(host) ? '' : host, rejectUnauthorized: false, session: d.session });
      socket.on('session', (s: Buffer) => (d.session = s));
      socket.once('secureConnect', () => count(socket.isSessionReused() ? 'tls resumed' : 'tls full'));
      return socket;
    }) as unknown as WebSocket.ClientOptions['createConnection'],
  });
  let retried = false;
  const retry = () => {
    if (retried) return;
    retried = true;
    setTimeout(() => connect(d), d.backoff.next(floorMs));
  };
  ws.on('unexpected-response', (_req, res) => {
    count(`http ${res.statusCode}`);
    const after = Number(res.headers['retry-after']);
    if (after > 0) floorMs = after * 1000;
    res.resume();
    ws.terminate();
  });
  ws.on('open', () => ws.send(encode({ type: 'hello', model: 'bench', firmware: '1', lastAckedSeq: 0, capabilities: caps })));
  ws.on('message', (data: Buffer) => {
    if (decode(new Uint8Array(data)).type !== 'welcome') return;
    d.backoff.reset(); // [FP-10.6]
    d.welcomes += 1;
    welcomes[d.welcomes - 1] = (welcomes[d.welcomes - 1] ?? 0) + 1;
    if (welcomes[d.welcomes - 1] === slice.length) process.stdout.write(`${JSON.stringify({ allWelcomedAt: Date.now(), round: d.welcomes })}\n`);
  });
  ws.on('close', (code) => {
    count(`close ${code}`);
    retry();
  });
  ws.on('error', (err: NodeJS.ErrnoException) => {
    count(`error ${err.code ?? err.message}`);
    ws.terminate();
  });
}

const devices: Device[] = slice.map((e) => ({ id: e.id, token: e.token, welcomes: 0, backoff: new Backoff(new Rng(`${e.id}/backoff`)), session: undefined }));
// The first round connects in waves so its handshakes do not all queue at once; reconnects follow the backoff.
let i = 0;
const wave = setInterval(() => {
  for (const d of devices.slice(i, i + 250)) connect(d);
  i += 250;
  if (i >= devices.length) clearInterval(wave);
}, 50);
setInterval(() => process.stdout.write(`${JSON.stringify({ t: performance.now() - started, welcomed: welcomes, outcomes })}\n`), 1000);
