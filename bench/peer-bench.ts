// npm run bench -- peers: Mosquitto (Debian's, what most users run) beside a bare aedes and Hearth's embedded
// broker, each a real program on loopback in its own process. The same mqtt.js publisher (QoS 0) and
// subscriber (on #) as bench/mqtt.ts's bare-aedes baseline drive Mosquitto and the bare aedes; Hearth's
// broker is driven by devices over wss -> hub (stored) -> subscriber, as bench/mqtt-e2e.ts does. Two loads
// each: a fixed 10,000 msg/s (latency) and full load (throughput). BENCH_PEER_SECONDS shortens the runs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserStore } from '../hub/auth/user-store.js';
import { mosquittoAvailable, MOSQUITTO_BIN, startMosquitto } from './peer-mosquitto.js';
import { spawnPeer, stopPeer, type PeerChild } from './peer-child.js';
import { BENCH_DIR, percentile, provisionFleet, startHubProcess, type Child } from './proc.js';

export type PeerName = 'Mosquitto' | 'bare aedes' | 'Hearth (embedded aedes)';

export interface PeerRow {
  peer: PeerName;
  /** Offered msg/s, 0 for full load. */
  rate: number;
  /** Messages (Hearth: readings) per second at the subscriber, in the steady window. */
  delivered: number;
  p50: number;
  p99: number;
  /** Published (Hearth: acked by the hub) over the run, and received by the subscriber by its last tick. */
  sent: number;
  received: number;
  note: string;
}

export interface PeerBenchResult {
  rows: PeerRow[];
  /** Why Mosquitto's rows are missing, when they are. */
  skipped?: string;
  seconds: number;
}

const RATE = 10_000;
/** Devices behind Hearth's rows (bench/mqtt-e2e.ts uses 200 at 20,000/s). */
const HEARTH_DEVICES = 200;
const WARM_MS = 3000;

/** The warm-up left out of a row's window: 3 s, or a third of a short (checking) run. */
const warmMs = (seconds: number): number => Math.min(WARM_MS, (seconds * 1000) / 3);

/** Stops the hub process (its lines are not read after it ends). */
function kill(c: Child | undefined): Promise<unknown> {
  if (!c || c.proc.exitCode !== null || c.proc.signalCode !== null) return Promise.resolve();
  c.proc.kill('SIGTERM');
  return c.exited;
}

/**
 * Steady-window rate and latency from a subscriber's per-second lines; `loadAt` is when the load began, ms
 * after the subscriber printed ready. Its ticks count from its start, before it connected: the first tick
 * comes 1 s after that start, which places ready on its clock.
 */
function summarize(sub: PeerChild, readyToLoad: number, seconds: number): { delivered: number; p50: number; p99: number } {
  // A subscriber its broker closed (too far behind) stops counting: its figures would be a partial run.
  const closed = sub.lines.find((l) => l.closed === true);
  if (closed) throw new Error(`the broker closed the subscriber ${Math.round(Number(closed.t))} ms into its run, after ${String(closed.count)} messages`);
  const all = sub.lines.filter((l) => typeof l.count === 'number');
  const loadAt = readyToLoad + Math.max(0, Number(all[0]?.t ?? 1000) - 1000);
  const ticks = sub.lines.filter((l) => typeof l.count === 'number' && Number(l.t) >= loadAt + warmMs(seconds) && Number(l.t) <= loadAt + seconds * 1000 + 500);
  const a = ticks[0];
  const b = ticks.at(-1);
  const delivered = a && b && b !== a ? ((Number(b.count) - Number(a.count)) / (Number(b.t) - Number(a.t))) * 1000 : 0;
  const lat = ticks.flatMap((l) => (l.lat as number[] | undefined) ?? []).sort((x, y) => x - y);
  return { delivered, p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

/** One publisher process and one subscriber process (on #) against a broker at `url`. */
async function clients(url: string, rate: number, seconds: number): Promise<{ delivered: number; p50: number; p99: number; sent: number; received: number }> {
  const script = join(BENCH_DIR, 'peer-mqtt-client.js');
  let sub: PeerChild | undefined;
  let pub: PeerChild | undefined;
  try {
    sub = spawnPeer(script, ['--role', 'sub', '--url', url, '--filter', '#', '--seconds', String(seconds + 60)]);
    await sub.waitFor((l) => l.ready === true);
    const readyAt = performance.now();
    pub = spawnPeer(script, ['--role', 'pub', '--url', url, '--rate', String(rate), '--seconds', String(seconds)]);
    await pub.waitFor((l) => l.started === true);
    const loadAt = performance.now() - readyAt;
    await pub.closed;
    await untilTickAfter(sub, loadAt + seconds * 1000 + 2500);
    return { ...summarize(sub, loadAt, seconds), sent: Number(pub.lines.find((l) => typeof l.sent === 'number')?.sent ?? 0), received: lastCount(sub) };
  } finally {
    await stopPeer(pub);
    await stopPeer(sub);
  }
}

/** The subscriber's count at its last tick. */
function lastCount(sub: PeerChild): number {
  return Number(sub.lines.filter((l) => typeof l.count === 'number').at(-1)?.count ?? 0);
}

/** Waits (bounded) for the subscriber's first tick past `t`, so that the steady window is complete. */
async function untilTickAfter(sub: PeerChild, t: number): Promise<void> {
  await sub.waitFor((l) => typeof l.count === 'number' && Number(l.t) > t, 30_000).catch(() => undefined);
}

async function brokerRow(peer: PeerName, rate: number, seconds: number): Promise<PeerRow> {
  const note = '1 mqtt.js publisher process, QoS 0, subscriber on #';
  if (peer === 'Mosquitto') {
    const m = await startMosquitto();
    try {
      return { peer, rate, ...(await clients(m.url, rate, seconds)), note };
    } finally {
      await m.stop();
    }
  }
  const aedes = spawnPeer(join(BENCH_DIR, 'peer-aedes-server.js'), []);
  try {
    const { port } = (await aedes.waitFor((l) => typeof l.port === 'number')) as { port: number };
    return { peer, rate, ...(await clients(`mqtt://127.0.0.1:${port}`, rate, seconds)), note };
  } finally {
    await stopPeer(aedes);
  }
}

async function hearthRow(rate: number, seconds: number): Promise<PeerRow> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-peers-'));
  let hub: Child | undefined;
  let sub: PeerChild | undefined;
  let load: PeerChild | undefined;
  try {
    const fleet = provisionFleet(dir, HEARTH_DEVICES, (i) => ({ id: `d${i}` }));
    const users = new UserStore({ dataDir: dir });
    users.load();
    await users.add('bench', 'bench-password', 'integration');
    const started = await startHubProcess(dir, ['--mqtt-port', '0', '--mqtt-tls-port', 'off', '--devices-max-frames-per-second', '100000']);
    hub = started.child;
    const mqttPort = ((await hub.waitFor((l) => l.msg === 'MQTT bridge started')).tcp as { port: number }).port;
    sub = spawnPeer(join(BENCH_DIR, 'mqtt-sub.js'), ['--url', `mqtt://127.0.0.1:${mqttPort}`, '--username', 'bench', '--password', 'bench-password', '--seconds', String(seconds + 90)]);
    await sub.waitFor((l) => l.ready === true);
    const readyAt = performance.now();
    const args = ['--url', started.url.replace('https://', 'wss://'), '--credentials', fleet, '--seconds', String(seconds), '--readings', '1', '--stamp'];
    if (rate > 0) args.push('--rate', String(rate));
    load = spawnPeer(join(BENCH_DIR, 'ingest-load.js'), args);
    // The load begins once every device is connected (TLS handshakes take seconds for 200 devices).
    await load.waitFor((l) => typeof l.connectedAll === 'number', 120_000);
    const loadAt = performance.now() - readyAt;
    await load.closed;
    await untilTickAfter(sub, loadAt + seconds * 1000 + 2500);
    return {
      peer: 'Hearth (embedded aedes)',
      rate,
      ...summarize(sub, loadAt, seconds),
      sent: Number(load.lines.filter((l) => typeof l.acked === 'number').at(-1)?.acked ?? 0),
      received: lastCount(sub),
      note: `${HEARTH_DEVICES} devices over wss, 1 reading per frame${rate > 0 ? '' : ', window 8'}, each stored before the broker sees it; counted on the \`<device>/readings\` stream`,
    };
  } finally {
    await stopPeer(load);
    await stopPeer(sub);
    await kill(hub);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs every row (Mosquitto's skipped, with the reason, when the binary is missing). */
export async function runPeerBench(opts: { seconds?: number; only?: PeerName[] } = {}): Promise<PeerBenchResult> {
  const seconds = opts.seconds ?? Number(process.env['BENCH_PEER_SECONDS'] ?? 10);
  const haveMosquitto = mosquittoAvailable();
  const rows: PeerRow[] = [];
  const wanted = (p: PeerName) => opts.only === undefined || opts.only.includes(p);
  for (const rate of [RATE, 0]) {
    const peers = (haveMosquitto ? (['Mosquitto', 'bare aedes'] as const) : (['bare aedes'] as const)).filter(wanted);
    for (const peer of peers) rows.push(await brokerRow(peer, rate, seconds));
    if (wanted('Hearth (embedded aedes)')) rows.push(await hearthRow(rate, seconds));
    for (const r of rows.slice(-peers.length - 1)) process.stderr.write(`peers: ${r.peer} at ${r.rate || 'full load'}: ${Math.round(r.delivered)}/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms\n`);
  }
  return haveMosquitto ? { rows, seconds } : { rows, seconds, skipped: `${MOSQUITTO_BIN} not found: Mosquitto rows skipped` };
}

/** The rows as a markdown table with ratios to Mosquitto's row at the same load. */
export function formatPeerBench(r: PeerBenchResult): string {
  const k = (n: number) => Math.round(n).toLocaleString('en-US');
  const ms = (n: number) => `${n.toFixed(2)} ms`;
  const lines = [
    '| peer | offered | delivered to the subscriber | latency p50 | latency p99 | vs Mosquitto (rate; p50, p99) | received / sent, 2.5 s after the end | setup |',
    '| --- | --- | ---: | ---: | ---: | --- | ---: | --- |',
  ];
  for (const row of r.rows) {
    const m = r.rows.find((x) => x.peer === 'Mosquitto' && x.rate === row.rate);
    const unit = row.peer.startsWith('Hearth') ? 'readings/s' : 'msg/s';
    const vs = m && row !== m ? `${(row.delivered / m.delivered).toFixed(2)}x; ${(row.p50 / m.p50).toFixed(1)}x, ${(row.p99 / m.p99).toFixed(1)}x` : m ? '1' : 'n/a';
    lines.push(`| ${row.peer} | ${row.rate > 0 ? `${k(row.rate)}/s` : 'full load'} | ${k(row.delivered)} ${unit} | ${ms(row.p50)} | ${ms(row.p99)} | ${vs} | ${k(row.received)} / ${k(row.sent)} | ${row.note} |`);
  }
  const notes = [
    `Each broker is its own process on 127.0.0.1, started by the benchmark (Mosquitto: \`${MOSQUITTO_BIN}\`, generated config, \`allow_anonymous true\`, persistence off); publisher and subscriber are processes of their own; ${r.seconds} s per row, rates and latencies from the window after the first ${warmMs(r.seconds) / 1000} s. Latency is publish (Hearth: device send) -> subscriber, wall clock across processes. At full load a QoS 0 publisher outruns any broker, so the latency there is queueing, not service time. Latency counts only what arrived by 2.5 s after the load ended: where "received / sent" falls short, the rest was later still (or dropped), so read the two together. Hearth's rows carry more work per message (TLS, decode, validation, a SQLite commit before the broker sees the reading) and its rate counts readings on the lossless \`<device>/readings\` stream, which batches readings per device and turn.`,
  ];
  if (r.skipped) notes.push(r.skipped);
  return `${lines.join('\n')}\n\n${notes.join('\n\n')}`;
}
