// npm run bench -- diy: the do-it-yourself stack a user would otherwise assemble (devices publishing QoS 1
// JSON readings to Mosquitto, one Node subscriber inserting them into SQLite: bench/diy-subscriber.ts) against
// Hearth's device -> stored -> ACK path (the real hub process, bench/ingest-load.ts devices), at the same
// offered load, device count and one reading per message/frame. Per stack: readings/s committed, latency,
// bytes on the wire per reading (a counting TCP proxy in this process on the device leg), bytes on disk per
// reading, and what a SIGKILL of the storage process (DIY: the subscriber; Hearth: the hub) loses.
// BENCH_DIY_SECONDS shortens the runs (default 10 s per run).
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { HubStore } from '../hub/storage/hub-store.js';
import { mosquittoAvailable, MOSQUITTO_BIN, startMosquitto, type PeerMosquitto } from './peer-mosquitto.js';
import { startTcpCounter, type TcpCounter } from './peer-tcp-counter.js';
import { spawnPeer, stopPeer, type PeerChild } from './peer-child.js';
import { BENCH_DIR, percentile, provisionFleet, startHubProcess, type Child } from './proc.js';

export type Stack = 'DIY (Mosquitto + mqtt.js + better-sqlite3)' | 'Hearth';

export interface LoadRow {
  stack: Stack;
  /** Offered readings/s, 0 for full load. */
  rate: number;
  /** Readings/s the devices saw acknowledged (DIY: PUBACKs from Mosquitto) in the steady window. */
  ackedRate: number;
  /** Readings/s committed to SQLite in the steady window (Hearth: = acked, its ACK follows the commit). */
  committedRate: number;
  ackP50: number;
  ackP99: number;
  /** Publish -> row committed, measured by the DIY subscriber; NaN for Hearth (its ACK is that moment). */
  commitP50: number;
  commitP99: number;
  /** Device-leg TCP bytes (both ways, TLS included for wss) per acked reading; NaN when not counted. */
  wirePerReading: number;
  /** Database + WAL bytes after a clean stop, per stored row. */
  diskPerReading: number;
  rows: number;
  /** Acked readings not in the database at the end (DIY: audited value by value; Hearth: acked - rows, if > 0). */
  lost: number;
  /** Readings acked over the whole run. */
  acked: number;
}

export interface KillRow {
  stack: Stack;
  config: string;
  acked: number;
  /** Acked by the device, absent from the database after restart. */
  lost: number;
  duplicates: number;
  rows: number;
}

export interface DiyBenchResult {
  loads: LoadRow[];
  kills: KillRow[];
  devices: number;
  seconds: number;
  skipped?: string;
}

const DIY: Stack = 'DIY (Mosquitto + mqtt.js + better-sqlite3)';
const RATE = 10_000;
const WARM_MS = 2000;
/** Mosquitto's default max_queued_messages is 1000; 0 lifts the bound (the tuned row of the kill test). */
const UNBOUNDED_QUEUE = 'max_queued_messages 0';

/** Stops the hub process (its lines are not read after it ends). */
function stopHub(c: Child | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<unknown> {
  if (!c || c.proc.exitCode !== null || c.proc.signalCode !== null) return Promise.resolve();
  c.proc.kill(signal);
  return c.exited;
}

/** Polls `pred` every 100 ms until it holds or `ms` pass; a bench step, not a test. */
async function until(pred: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

function bytesOnDisk(db: string): number {
  return [db, `${db}-wal`].filter(existsSync).reduce((n, f) => n + statSync(f).size, 0);
}

/** The warm-up left out of a run's window: 2 s, or a third of a short (checking) run. */
const warmMs = (seconds: number): number => Math.min(WARM_MS, (seconds * 1000) / 3);

/** The loader's per-second lines inside [connected + WARM_MS, connected + seconds]. */
function steady(lines: Record<string, unknown>[], seconds: number): Record<string, unknown>[] {
  const start = Number(lines.find((l) => typeof l.connectedAll === 'number')?.t ?? 0);
  return lines.filter((l) => typeof l.acked === 'number' && Number(l.t) >= start + warmMs(seconds) && Number(l.t) <= start + seconds * 1000 + 500);
}

function rateOf(ticks: Record<string, unknown>[], key: string): number {
  const a = ticks[0];
  const b = ticks.at(-1);
  return a && b && a !== b ? ((Number(b[key]) - Number(a[key])) / (Number(b.t) - Number(a.t))) * 1000 : 0;
}

const sortedLat = (ticks: Record<string, unknown>[]) => ticks.flatMap((l) => (l.lat as number[] | undefined) ?? []).sort((x, y) => x - y);

function subscriber(url: string, db: string): PeerChild {
  return spawnPeer(join(BENCH_DIR, 'diy-subscriber.js'), ['--url', url, '--db', db]);
}

/** One DIY run: Mosquitto, the subscriber, the devices; `killAtMs` SIGKILLs the subscriber that far in. */
async function diyRun(o: { rate: number; devices: number; seconds: number; countBytes: boolean; killAtMs?: number; mosquitto?: string[] }): Promise<{ load: LoadRow; kill?: KillRow }> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-diy-'));
  const db = join(dir, 'diy.db');
  const ackedFile = join(dir, 'acked.json');
  let broker: PeerMosquitto | undefined;
  let proxy: TcpCounter | undefined;
  let sub: PeerChild | undefined;
  let devs: PeerChild | undefined;
  try {
    broker = await startMosquitto(o.mosquitto ?? []);
    if (o.countBytes) proxy = await startTcpCounter(broker.port);
    sub = subscriber(broker.url, db);
    await sub.waitFor((l) => l.ready === true);
    const firstSub = sub;
    const args = ['--url', proxy ? `mqtt://127.0.0.1:${proxy.port}` : broker.url, '--devices', String(o.devices), '--rate', String(o.rate), '--seconds', String(o.seconds), '--acked-file', ackedFile];
    devs = spawnPeer(join(BENCH_DIR, 'diy-device.js'), args);
    const connected = await devs.waitFor((l) => typeof l.connectedAll === 'number', 120_000);
    if (o.killAtMs !== undefined) {
      const at = Number(connected.t) + o.killAtMs;
      await devs.waitFor((l) => Number(l.t) >= at);
      await stopPeer(sub, 'SIGKILL');
      sub = subscriber(broker.url, db); // same client id, clean false: Mosquitto resumes the session
      await sub.waitFor((l) => l.ready === true);
    }
    await devs.closed;
    const done = devs.lines.find((l) => l.done === true);
    if (!done) throw new Error(`diy-device ended (${devs.proc.exitCode ?? devs.proc.signalCode}) without its summary line; last: ${JSON.stringify(devs.lines.at(-1) ?? null).slice(0, 200)}`);
    // Drain: the subscriber has caught up when its row count holds for two ticks.
    const s = sub;
    await until(() => {
      const t = s.lines.filter((l) => typeof l.rows === 'number');
      return t.length >= 2 && t.at(-1)!.rows === t.at(-2)!.rows && Number(t.at(-1)!.rows) > 0;
    }, 30_000);
    const wire = proxy ? proxy.bytes() : undefined;
    await stopPeer(sub);
    const audit = spawnPeer(join(BENCH_DIR, 'diy-subscriber.js'), ['--db', db, '--audit', ackedFile]);
    const audited = await audit.waitFor((l) => typeof l.missing === 'number');
    const window = steady(devs.lines, o.seconds);
    // The subscriber's ticks in the devices' steady window, by the wall clock both print.
    const from = Number(window[0]?.at ?? 0);
    const to = Number(window.at(-1)?.at ?? 0);
    const subAll = firstSub.lines.filter((l) => typeof l.rows === 'number' && typeof l.at === 'number');
    // The subscriber's ticks nearest the window's bounds (a late tick of either process must not empty it).
    const a = subAll.filter((l) => Number(l.at) <= from).at(-1) ?? subAll[0];
    const b = subAll.find((l) => Number(l.at) >= to) ?? subAll.at(-1);
    const subTicks = a && b ? subAll.slice(subAll.indexOf(a) + 1, subAll.indexOf(b) + 1) : [];
    const committedRate = a && b && b !== a ? ((Number(b.rows) - Number(a.rows)) / (Number(b.at) - Number(a.at))) * 1000 : 0;
    const rows = Number(audited.rows);
    const load: LoadRow = {
      stack: DIY,
      rate: o.rate,
      ackedRate: rateOf(window, 'acked'),
      committedRate: o.killAtMs === undefined ? committedRate : NaN,
      ackP50: percentile(sortedLat(window), 50),
      ackP99: percentile(sortedLat(window), 99),
      commitP50: percentile(sortedLat(subTicks), 50),
      commitP99: percentile(sortedLat(subTicks), 99),
      wirePerReading: wire ? (wire.up + wire.down) / Number(done.acked) : NaN,
      diskPerReading: bytesOnDisk(db) / rows,
      rows,
      lost: Number(audited.missing),
      acked: Number(audited.acked),
    };
    const config = o.mosquitto?.length ? `Mosquitto with \`${o.mosquitto.join('; ')}\`` : "Mosquitto's defaults (max_queued_messages 1000)";
    return o.killAtMs === undefined ? { load } : { load, kill: { stack: DIY, config, acked: Number(audited.acked), lost: Number(audited.missing), duplicates: Number(audited.duplicates), rows } };
  } finally {
    await stopPeer(devs);
    await stopPeer(sub, 'SIGKILL');
    await proxy?.close();
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const HUB_FLAGS = ['--mqtt-port', '0', '--mqtt-tls-port', 'off', '--devices-max-frames-per-second', '100000'];

/** The readings each device's metric holds in the hub's database (read after the hub stopped). */
function storedValues(dataDir: string, ids: string[], metric: string): Map<string, number[]> {
  const store = new HubStore({ path: join(dataDir, 'hearth.db') });
  store.open();
  try {
    return new Map(ids.map((id) => [id, store.history({ deviceId: id, metric, from: 0, to: Number.MAX_SAFE_INTEGER, step: 'raw', limit: 1e9 }).map((p) => Number(p.value))]));
  } finally {
    store.close();
  }
}

/** One Hearth run at the same load: ingest-load devices (or, to kill the hub, bench/diy-hearth-device.ts). */
async function hearthRun(o: { rate: number; devices: number; seconds: number; countBytes: boolean; killAtMs?: number }): Promise<{ load: LoadRow; kill?: KillRow }> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-diy-hub-'));
  const ackedFile = join(dir, 'acked.json');
  const ids = Array.from({ length: o.devices }, (_, i) => `h${i}`);
  let hub: Child | undefined;
  let proxy: TcpCounter | undefined;
  let devs: PeerChild | undefined;
  try {
    const fleet = provisionFleet(dir, o.devices, (i) => ({ id: ids[i]! }));
    const started = await startHubProcess(dir, HUB_FLAGS);
    hub = started.child;
    if (o.countBytes) proxy = await startTcpCounter(started.port);
    const url = `wss://127.0.0.1:${proxy ? proxy.port : started.port}`;
    const kill = o.killAtMs !== undefined;
    if (kill) {
      devs = spawnPeer(join(BENCH_DIR, 'diy-hearth-device.js'), ['--url', url, '--credentials', fleet, '--rate', String(o.rate), '--seconds', String(o.seconds), '--acked-file', ackedFile]);
      const connected = await devs.waitFor((l) => typeof l.connectedAll === 'number', 120_000);
      await devs.waitFor((l) => Number(l.t) >= Number(connected.t) + o.killAtMs!);
      await stopHub(hub, 'SIGKILL');
      await devs.closed;
      // Restart on the same data dir (recovery runs as at any start), then a clean stop before the audit.
      hub = (await startHubProcess(dir, HUB_FLAGS)).child;
      await stopHub(hub);
    } else {
      const args = ['--url', url, '--credentials', fleet, '--seconds', String(o.seconds), '--readings', '1'];
      if (o.rate > 0) args.push('--rate', String(o.rate));
      devs = spawnPeer(join(BENCH_DIR, 'ingest-load.js'), args);
      await devs.closed;
      await stopHub(hub);
    }
    const wire = proxy?.bytes();
    const stored = storedValues(dir, ids, kill ? 'temperature' : 'm1');
    const rows = [...stored.values()].reduce((n, v) => n + v.length, 0);
    const window = steady(devs.lines, o.seconds);
    const lastAcked = Number(devs.lines.filter((l) => typeof l.acked === 'number').at(-1)?.acked ?? 0);
    const acked = kill ? lastAcked : rateOf(window, 'acked');
    const load: LoadRow = {
      stack: 'Hearth',
      rate: o.rate,
      ackedRate: acked,
      committedRate: acked,
      ackP50: percentile(sortedLat(window), 50),
      ackP99: percentile(sortedLat(window), 99),
      commitP50: NaN,
      commitP99: NaN,
      wirePerReading: wire ? (wire.up + wire.down) / Math.max(1, lastAcked) : NaN,
      diskPerReading: bytesOnDisk(join(dir, 'hearth.db')) / rows,
      rows,
      lost: Math.max(0, lastAcked - rows),
      acked: lastAcked,
    };
    if (!kill) return { load };
    const ackedBy = JSON.parse(readFileSync(ackedFile, 'utf8')) as Record<string, number[]>;
    let lost = 0;
    let duplicates = 0;
    let ackedTotal = 0;
    for (const [id, list] of Object.entries(ackedBy)) {
      const values = stored.get(id) ?? [];
      const have = new Set(values);
      duplicates += values.length - have.size;
      ackedTotal += list.length;
      for (const v of list) if (!have.has(v)) lost += 1;
    }
    return { load, kill: { stack: 'Hearth', config: 'defaults (db.synchronous NORMAL)', acked: ackedTotal, lost, duplicates, rows } };
  } finally {
    await stopPeer(devs);
    await stopHub(hub, 'SIGKILL');
    await proxy?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the loads (10,000 readings/s with bytes counted, then full load) and the kill runs of both stacks. */
export async function runDiyBench(opts: { devices?: number; seconds?: number } = {}): Promise<DiyBenchResult> {
  const devices = opts.devices ?? 200;
  const seconds = opts.seconds ?? Number(process.env['BENCH_DIY_SECONDS'] ?? 10);
  const have = mosquittoAvailable();
  const loads: LoadRow[] = [];
  const kills: KillRow[] = [];
  const log = (r: LoadRow) => process.stderr.write(`diy: ${r.stack} at ${r.rate || 'full load'}: committed ${Math.round(r.committedRate)}/s, acked ${Math.round(r.ackedRate)}/s\n`);
  for (const [rate, countBytes] of [[RATE, true], [0, false]] as const) {
    if (have) loads.push((await diyRun({ rate, devices, seconds, countBytes })).load);
    loads.push((await hearthRun({ rate, devices, seconds, countBytes })).load);
    loads.slice(have ? -2 : -1).forEach(log);
  }
  const killAtMs = Math.round((seconds * 1000) / 2);
  if (have) {
    kills.push((await diyRun({ rate: RATE, devices, seconds, countBytes: false, killAtMs })).kill!);
    kills.push((await diyRun({ rate: RATE, devices, seconds, countBytes: false, killAtMs, mosquitto: [UNBOUNDED_QUEUE] })).kill!);
  }
  kills.push((await hearthRun({ rate: RATE, devices, seconds, countBytes: false, killAtMs })).kill!);
  for (const k of kills) process.stderr.write(`diy: kill ${k.stack} (${k.config}): acked ${k.acked}, lost ${k.lost}, duplicates ${k.duplicates}\n`);
  return have ? { loads, kills, devices, seconds } : { loads, kills, devices, seconds, skipped: `${MOSQUITTO_BIN} not found: the DIY rows are skipped` };
}

/** ThingsBoard's published single-node figures (as issue #17 quotes them), for the table beside ours. */
export const THINGSBOARD_URL = 'https://thingsboard.io/docs/reference/performance-aws-instances/';
export const THINGSBOARD = [
  { setup: 'ThingsBoard, Kafka + Cassandra', machine: 'AWS m6a.2xlarge, 8 vCPU', devices: 100_000, msgs: 30_000, points: 3 },
  { setup: 'ThingsBoard', machine: 'AWS t3.medium, 2 vCPU', devices: 5_000, msgs: 1_000, points: 3 },
];
/** Where ThingsBoard's figures come from and what they are, under every table that quotes them. */
export const THINGSBOARD_NOTE = `ThingsBoard's figures are theirs, from their page (${THINGSBOARD_URL}; the figures as issue #17 quotes them: the page's stored copies differ between versions), each message 3 data points, 24 h runs on the machine named; they are not re-measured here and their machines are not this one.`;

/** The three tables (loads, kills, ThingsBoard beside ours) as markdown. */
export function formatDiyBench(r: DiyBenchResult): string {
  const k = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
  const ms = (a: number, b: number) => (Number.isFinite(a) ? `${a.toFixed(1)} / ${b.toFixed(1)} ms` : 'n/a');
  const b = (n: number) => (Number.isFinite(n) ? `${n.toFixed(1)} B` : 'n/a');
  const x = (h: number, d: number) => (Number.isFinite(h) && Number.isFinite(d) && d > 0 ? `${(h / d).toFixed(2)}x` : 'n/a');
  const load = ['| stack | offered | readings/s committed | readings/s acked to devices | acked, never stored | device ACK p50 / p99 | publish -> row committed p50 / p99 | wire bytes / reading | disk bytes / reading |', '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |'];
  for (const rate of [RATE, 0]) {
    const rows = r.loads.filter((l) => l.rate === rate);
    const offered = rate > 0 ? `${k(rate)}/s` : 'full load (window 8)';
    for (const l of rows) {
      load.push(`| ${l.stack} | ${offered} | ${k(l.committedRate)} | ${k(l.ackedRate)} | ${k(l.lost)} of ${k(l.acked)} | ${ms(l.ackP50, l.ackP99)} | ${l.stack === 'Hearth' ? 'the ACK (sent after the commit)' : ms(l.commitP50, l.commitP99)} | ${b(l.wirePerReading)} | ${b(l.diskPerReading)} |`);
    }
    const d = rows.find((l) => l.stack === DIY);
    const h = rows.find((l) => l.stack === 'Hearth');
    if (d && h) load.push(`| Hearth / DIY | ${offered} | ${x(h.committedRate, d.committedRate)} | ${x(h.ackedRate, d.ackedRate)} | | p99 ${x(h.ackP99, d.ackP99)} | p99 ${x(h.ackP99, d.commitP99)} (Hearth ACK vs DIY commit) | ${x(h.wirePerReading, d.wirePerReading)} | ${x(h.diskPerReading, d.diskPerReading)} |`);
  }
  const kill = ['| storage process SIGKILLed mid-stream at 10,000 readings/s | broker / hub config | readings acked to devices | acked but not in the database after restart | duplicated rows | rows stored |', '| --- | --- | ---: | ---: | ---: | ---: |'];
  for (const c of r.kills) {
    const what = c.stack === 'Hearth' ? 'Hearth: the hub' : 'DIY: the subscriber';
    kill.push(`| ${what} | ${c.config} | ${k(c.acked)} | ${k(c.lost)} (${((c.lost / Math.max(1, c.acked)) * 100).toFixed(2)}%) | ${k(c.duplicates)} | ${k(c.rows)} |`);
  }
  const machine = `${cpus().length} x ${cpus()[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`;
  const full = r.loads.find((l) => l.stack === 'Hearth' && l.rate === 0);
  const tb = ['| system | machine | devices | messages/s | data points/s | how long |', '| --- | --- | ---: | ---: | ---: | --- |'];
  for (const t of THINGSBOARD) tb.push(`| ${t.setup} | ${t.machine} | ${k(t.devices)} | ${k(t.msgs)} | ${k(t.msgs * t.points)} | 24 h+ (their method) |`);
  if (full) tb.push(`| Hearth (this run, full load, committed + acked) | ${machine}, shared with the load generator | ${k(r.devices)} | ${k(full.committedRate)} | ${k(full.committedRate)} (1 reading per frame) | ${r.seconds} s |`);
  const notes = [
    `Both stacks: ${r.devices} devices, one reading per message/frame, ${r.seconds} s per run, rates and latencies from the window after the first ${(warmMs(r.seconds) / 1000).toFixed(1)} s; every process (Mosquitto \`${MOSQUITTO_BIN}\` with a generated config, persistence off; the DIY subscriber; the hub; the device loaders) is its own and on loopback. DIY devices publish QoS 1 \`{"metric":"temperature","value":n,"ts":ms}\` over plain TCP; the subscriber (clean session false, QoS 1) commits one better-sqlite3 transaction per 10 ms or 1,000 messages (WAL, synchronous NORMAL) into an indexed table (device, metric, ts). Hearth's devices speak the binary protocol over wss (TLS), its ACK follows the SQLite commit.`,
    `The DIY ACK is Mosquitto's PUBACK, sent before anything is stored: a device is told "delivered" for readings that may never reach the disk, which is what the kill table counts (acked values per device against the table after the subscriber's restart and drain). Hearth's ACK is the commit: it can only lose what it never acked (the device keeps unacked frames and resends them on reconnect). Wire bytes: device leg only, both directions, through a counting TCP proxy in the bench process (Hearth: TLS records and handshakes included; DIY: the Mosquitto -> subscriber leg is not counted). Disk: database + WAL after a clean stop, divided by rows; over a ${r.seconds} s run it is dominated by what each layout costs per row before Hearth's compaction (see \`npm run bench -- storage\` for 10 M readings).`,
    THINGSBOARD_NOTE,
  ];
  if (r.skipped) notes.push(r.skipped);
  return [load.join('\n'), kill.join('\n'), tb.join('\n'), ...notes].join('\n\n');
}
