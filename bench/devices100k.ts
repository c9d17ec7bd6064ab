// npm run bench -- devices100k [--devices N] [--hubs H] [--ramp D] [--rate R] [--seconds S] [--broker mosquitto|none]
// [--per-sim N] [--prime P]: issue #17 §5, second bullet. N concurrent wss devices (default 100,000) on this one box across H
// hub processes (default 6) on one throwaway PostgreSQL, each hub bridging to one external Mosquitto with its
// embedded broker off (--broker none: no MQTT at all), driven by simulator processes (bench/devices19k-load.ts)
// of at most --per-sim devices each (default 8,500), each pointed at one hub. A process may hold at most 20,000
// open files, so a configuration with more than 17,000 devices on one hub or 10,000 in one simulator is
// refused up front. The devices connect idle at D dials per second across the fleet (default 200: an
// unthrottled ramp of TLS handshakes stalls this machine). Then every device sends its first reading, P devices a
// second across the fleet (default 1,000: each first reading creates 3 series, one database round trip each,
// and at the full rate those round trips queued the hubs' pools until their beat timed out and they cut
// themselves off), and then they stream R readings/s in total (default 30,000); after 10 s more, the steady
// window of S seconds (default 60). Measures the time to connect them all, hub RSS per device and per hub,
// simulator memory per device, readings/s committed (counted in PostgreSQL) against readings/s acked (seen by
// the devices), ACK p50/p99, reconnects and missed heartbeats, and the CPU of every process. When
// MemAvailable falls below 1 GiB (or a process dies) it stops cleanly and reports what it had measured.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newDeviceCredentials } from '../hub/auth/device-tokens.js';
import { PgStore } from '../hub/storage/pg/pg-store.js';
import { PgCluster } from '../hub/storage/pg/throwaway-cluster.js';
import { formatDevices100k, type Devices100kResult, type Snapshot } from './devices100k-report.js';
import { latest, metrics, sum } from './devices19k.js';
import { startMosquitto, type PeerMosquitto } from './peer-mosquitto.js';
import { BENCH_DIR, cpuSecondsOf, rssOf, spawnNode, startHubProcess, treeCpuSecondsOf, type Child } from './proc.js';

export { formatDevices100k, type Devices100kResult };

export interface Devices100kOptions {
  devices: number;
  hubs: number;
  /** New connections per second across the fleet while connecting. */
  ramp: number;
  /** Readings per second across the fleet once every device is in. */
  rate: number;
  /** Steady window, seconds. */
  seconds: number;
  broker: 'mosquitto' | 'none';
  /** Most devices in one simulator process. */
  perSim: number;
  /** Devices per second sending their first reading, across the fleet, before the stream. */
  prime: number;
}

export const DEVICES100K_DEFAULTS: Devices100kOptions = { devices: 100_000, hubs: 6, ramp: 200, rate: 30_000, seconds: 60, broker: 'mosquitto', perSim: 8_500, prime: 1000 };

export const MODEL = 'smart_plug';
/** Readings per tick of MODEL (on, power, energy): one TELEMETRY frame of 3, as ThingsBoard's 3 data points. */
export const READINGS_PER_TICK = 3;
/** The hub's default devices.heartbeatMs: 2 missed pongs mark a device offline. */
export const HEARTBEAT_MS = 30_000;
/** Open files: 20,000 per process (hard limit); a hub also keeps http.fdReserve (256) spare and holds its database and broker sockets. */
export const MAX_PER_HUB = 17_000;
export const MAX_PER_SIM = 10_000;
/** Below this MemAvailable the run stops (no swap on this machine: the OOM killer would pick a process). */
export const MIN_AVAILABLE_BYTES = 2 ** 30;
/** PgCluster's max_connections, and what one hub opens at most: its pool of 10, its beat's and its LISTEN connection. */
const PG_MAX_CONNECTIONS = 100;
const PG_CONNECTIONS_PER_HUB = 12;
/** For the up-front memory check: hub RSS per wss connection and simulator RSS per device, measured (devices19k), rounded up. */
const HUB_BYTES_PER_DEVICE = 40 * 1024;
const SIM_BYTES_PER_DEVICE = 95 * 1024;
const BASE_BYTES_PER_PROCESS = 150 * 2 ** 20;

/** The options from `npm run bench -- devices100k ...` flags (see the header). */
export function devices100kArgs(argv: string[]): Partial<Devices100kOptions> {
  const at = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i > 0 ? argv[i + 1] : undefined;
  };
  const out: Partial<Devices100kOptions> = {};
  for (const [flag, key] of [['--devices', 'devices'], ['--hubs', 'hubs'], ['--ramp', 'ramp'], ['--rate', 'rate'], ['--seconds', 'seconds'], ['--per-sim', 'perSim'], ['--prime', 'prime']] as const) {
    const v = at(flag);
    if (v !== undefined) out[key] = Number(v);
  }
  const broker = at('--broker');
  if (broker !== undefined) out.broker = broker as Devices100kOptions['broker'];
  return out;
}

export interface Slice {
  hub: number;
  from: number;
  to: number;
}

function memAvailable(): number {
  return Number(/MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) * 1024;
}

/**
 * Devices split evenly over the hubs in contiguous ranges of the credentials file, each hub's range over as few
 * simulators as fit `perSim`; throws, naming every reason at once, on a configuration that would not fit.
 */
export function planFleet(o: Devices100kOptions): { hubs: Slice[]; sims: Slice[] } {
  const errors: string[] = [];
  for (const [name, v] of [['devices', o.devices], ['hubs', o.hubs], ['seconds', o.seconds], ['per-sim', o.perSim]] as const) {
    if (!Number.isInteger(v) || v <= 0) errors.push(`--${name} must be a positive integer (got ${v})`);
  }
  if (!(o.ramp > 0)) errors.push(`--ramp must be above 0 (got ${o.ramp})`);
  if (!(o.prime > 0)) errors.push(`--prime must be above 0 (got ${o.prime})`);
  if (!(o.rate >= 0)) errors.push(`--rate must be 0 or more (got ${o.rate})`);
  if (o.broker !== 'mosquitto' && o.broker !== 'none') errors.push(`--broker must be mosquitto or none (got ${String(o.broker)})`);
  const perHub = Math.ceil(o.devices / o.hubs);
  if (perHub > MAX_PER_HUB) errors.push(`${perHub.toLocaleString('en-US')} devices per hub: at most ${MAX_PER_HUB.toLocaleString('en-US')} (a process may hold 20,000 open files; the hub keeps 256 spare and holds its database and broker sockets): use --hubs ${Math.ceil(o.devices / MAX_PER_HUB)} or more`);
  if (o.perSim > MAX_PER_SIM) errors.push(`--per-sim ${o.perSim}: at most ${MAX_PER_SIM.toLocaleString('en-US')} devices per simulator process (20,000 open files, and one Node thread per simulator)`);
  if (o.hubs * PG_CONNECTIONS_PER_HUB + 2 > PG_MAX_CONNECTIONS) errors.push(`${o.hubs} hubs may open ${o.hubs * PG_CONNECTIONS_PER_HUB} PostgreSQL connections, the throwaway cluster allows ${PG_MAX_CONNECTIONS}: at most ${Math.floor((PG_MAX_CONNECTIONS - 2) / PG_CONNECTIONS_PER_HUB)} hubs`);
  const limit = Number(/Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? Infinity);
  if (limit < Math.min(perHub, o.perSim) + 1000) errors.push(`open-file limit ${limit} is too low for ${Math.min(perHub, o.perSim)} connections in one process: run \`ulimit -n 20000\` first`);
  const simsPerHub = Math.ceil(perHub / o.perSim);
  const need = o.devices * (HUB_BYTES_PER_DEVICE + SIM_BYTES_PER_DEVICE) + (o.hubs * (1 + simsPerHub) + 2) * BASE_BYTES_PER_PROCESS;
  const avail = memAvailable();
  if (need > avail - MIN_AVAILABLE_BYTES) errors.push(`about ${(need / 2 ** 30).toFixed(1)} GiB needed (hubs ~40 KiB and simulators ~95 KiB per device), ${(avail / 2 ** 30).toFixed(1)} GiB available and 1 GiB must stay free: fewer --devices`);
  if (errors.length > 0) throw new Error(`devices100k: configuration refused:\n  - ${errors.join('\n  - ')}`);
  const hubs: Slice[] = [];
  const sims: Slice[] = [];
  for (let h = 0; h < o.hubs; h++) {
    const [from, to] = [Math.floor((h * o.devices) / o.hubs), Math.floor(((h + 1) * o.devices) / o.hubs)];
    hubs.push({ hub: h, from, to });
    const k = Math.ceil((to - from) / o.perSim);
    for (let s = 0; s < k; s++) sims.push({ hub: h, from: from + Math.floor((s * (to - from)) / k), to: from + Math.floor(((s + 1) * (to - from)) / k) });
  }
  return { hubs, sims };
}

/** Why the run must stop early, checked by every wait: MemAvailable below 1 GiB, a child gone, a signal. */
class Guard {
  reason: string | undefined;
  minAvailable = Infinity;
  /** Set once the measurements are done: children exiting from then on are expected. */
  ending = false;
  readonly #timer = setInterval(() => this.sample(), 500);
  readonly #onSignal = (sig: string) => (this.reason ??= `interrupted (${sig})`);

  constructor() {
    process.on('SIGINT', this.#onSignal).on('SIGTERM', this.#onSignal);
    this.sample();
  }

  sample(): void {
    const a = memAvailable();
    this.minAvailable = Math.min(this.minAvailable, a);
    if (a < MIN_AVAILABLE_BYTES) this.reason ??= `MemAvailable fell to ${Math.round(a / 2 ** 20)} MiB (below 1 GiB)`;
  }

  watch(c: Child, name: string): void {
    void c.exited.then((code) => {
      if (!this.ending) this.reason ??= `${name} exited (${code}) during the run`;
    });
  }

  close(): void {
    clearInterval(this.#timer);
    process.off('SIGINT', this.#onSignal).off('SIGTERM', this.#onSignal);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `pred`, `ms` passed, or the guard calls a stop; progress on stderr every 15 s. */
async function waitFor(guard: Guard, pred: () => boolean, ms: number, progress: () => string): Promise<'ok' | 'timeout' | 'stopped'> {
  const deadline = Date.now() + ms;
  let shown = Date.now();
  for (;;) {
    if (pred()) return 'ok';
    if (guard.reason !== undefined) return 'stopped';
    if (Date.now() >= deadline) return 'timeout';
    if (Date.now() - shown >= 15_000) {
      shown = Date.now();
      console.error(`devices100k: ${progress()}`);
    }
    await sleep(Math.min(200, Math.max(1, deadline - Date.now())));
  }
}

const safe = (f: () => number): number => {
  try {
    return f();
  } catch {
    return NaN; // the process is gone
  }
};

/** Provisions `n` devices into the shared database and writes their tokens where the loaders read them. */
async function provision(store: PgStore, n: number, dir: string): Promise<string> {
  const now = Date.now();
  const creds = Array.from({ length: n }, (_, i) => newDeviceCredentials(`d${i}`, `d${i}`, MODEL, now));
  let next = 0;
  // Four one-row INSERTs in flight (the store's pool): 100,000 devices in well under a minute.
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < n) await store.addDevice(creds[next++]!.record);
  }));
  const file = join(dir, 'fleet.json');
  writeFileSync(file, JSON.stringify({ devices: creds.map((c) => ({ id: c.record.id, token: c.token, model: MODEL })) }));
  return file;
}

interface Hub {
  child: Child;
  port: number;
  dir: string;
}

/** Runs the scenario of the header; resolves with what was measured, also when the run stopped early. */
export async function runDevices100kBench(opts: Partial<Devices100kOptions> = {}): Promise<Devices100kResult> {
  const o: Devices100kOptions = { ...DEVICES100K_DEFAULTS, ...opts };
  const plan = planFleet(o);
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-100k-'));
  const guard = new Guard();
  const hubs: Hub[] = [];
  const loaders: Child[] = [];
  let cluster: PgCluster | undefined;
  let mosquitto: PeerMosquitto | undefined;
  let store: PgStore | undefined;
  const r: Devices100kResult = {
    options: o, heartbeatMs: HEARTBEAT_MS, readingsPerTick: READINGS_PER_TICK, perHub: plan.hubs.map((s) => s.to - s.from), perSim: plan.sims.map((s) => s.to - s.from),
    connected: 0, hubRssBaseBytes: [], hubRssBytes: [], hubRssEndBytes: [], simRssBytes: [], memAvailableMinBytes: 0, hubLog: [],
  };
  try {
    cluster = await PgCluster.start();
    const url = await cluster.createDatabase('d100k');
    store = new PgStore({ url, poolSize: 4 });
    await store.open(); // migrates the fresh database before any hub starts
    let t = Date.now();
    const credentials = await provision(store, o.devices, dir);
    console.error(`devices100k: ${o.devices} devices provisioned in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    if (o.broker === 'mosquitto') mosquitto = await startMosquitto();
    // One at a time: each hub loads the device table and claims its first devices before the next starts.
    for (let h = 0; h < o.hubs; h++) {
      const d = join(dir, `hub-${h}`);
      const flags = ['--db-url', url, '--hub-id', `hub-${h}`, '--mqtt-embedded', 'false', '--devices-heartbeat-ms', String(HEARTBEAT_MS), ...(mosquitto ? ['--mqtt-url', mosquitto.url] : [])];
      const { child, port } = await startHubProcess(d, flags);
      hubs.push({ child, port, dir: d });
      guard.watch(child, `hub-${h}`);
    }
    await sleep(1000);
    r.hubRssBaseBytes = hubs.map((h) => rssOf(h.child.proc.pid!));
    const pgPid = cluster.postmasterPid();
    const cpu = () => ({
      hubs: hubs.map((h) => safe(() => cpuSecondsOf(h.child.proc.pid!))),
      sims: loaders.map((l) => safe(() => cpuSecondsOf(l.proc.pid!))),
      pg: treeCpuSecondsOf(pgPid),
      mosquitto: mosquitto ? safe(() => cpuSecondsOf(mosquitto!.proc.pid!)) : 0,
      bench: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    });
    const hubRss = () => hubs.map((h) => safe(() => rssOf(h.child.proc.pid!)));
    const rss = () => {
      r.hubRssBytes = hubRss();
      r.simRssBytes = loaders.map((l) => safe(() => rssOf(l.proc.pid!)));
    };

    // 1. Connect, idle, along the ramp: each loader dials its share of it, so that all finish together.
    const ticksPerSecond = o.rate / READINGS_PER_TICK;
    const cpuRamp0 = cpu();
    t = Date.now();
    for (const [i, s] of plan.sims.entries()) {
      const share = (s.to - s.from) / o.devices;
      const hub = hubs[s.hub]!;
      const args = ['--url', `wss://127.0.0.1:${hub.port}`, '--credentials', credentials, '--from', String(s.from), '--to', String(s.to), '--rate', '0', '--stream-rate', String(ticksPerSecond * share), '--ramp', String(o.ramp * share), '--prime-seconds', String(o.devices / o.prime), '--ca', join(hub.dir, 'tls', 'hub-cert.pem')];
      const l = spawnNode(join(BENCH_DIR, 'devices19k-load.js'), args);
      loaders.push(l);
      guard.watch(l, `simulator ${i}`);
    }
    const progress = () =>
      `${sum(loaders, 'everConnected')} of ${o.devices} ever connected, ${sum(loaders, 'online')} online, ${sum(loaders, 'reconnects')} reconnects, ${sum(loaders, 'refusals')} refusals; hubs' RSS ${Math.round(hubs.reduce((n, h) => n + safe(() => rssOf(h.child.proc.pid!)), 0) / 2 ** 20)} MiB; MemAvailable ${(memAvailable() / 2 ** 30).toFixed(1)} GiB`;
    const budget = (1.5 * o.devices) / o.ramp + 120;
    const connect = await waitFor(guard, () => sum(loaders, 'everConnected') >= o.devices, budget * 1000, progress);
    r.connected = sum(loaders, 'everConnected');
    r.rampReconnects = sum(loaders, 'reconnects');
    r.rampRefusals = sum(loaders, 'refusals');
    if (connect !== 'ok') {
      rss();
      r.stopped = connect === 'timeout' ? `${r.connected.toLocaleString('en-US')} of ${o.devices.toLocaleString('en-US')} devices connected within ${budget.toFixed(0)} s` : guard.reason;
      return r;
    }
    r.connectSeconds = (Date.now() - t) / 1000;
    const cpuRamp1 = cpu();
    r.rampCpuPercent = (100 * (total(cpuRamp1) - total(cpuRamp0))) / r.connectSeconds;
    await waitFor(guard, () => false, 5000, progress);
    rss();
    if (guard.reason !== undefined) return (r.stopped = guard.reason), r;

    // 2. Stream: every device's first reading along the priming ramp (see the header), then the stream.
    for (const l of loaders) l.proc.kill('SIGUSR2');
    r.warmupSeconds = o.devices / o.prime + 10;
    await waitFor(guard, () => false, r.warmupSeconds * 1000, progress);
    if (guard.reason !== undefined) return (r.stopped = `${guard.reason}, during the warm-up`), r;
    const snap = async (): Promise<Snapshot> => {
      const [c, at] = [cpu(), Date.now()];
      const [count, ms] = await Promise.all([store!.readingsSize(), Promise.all(hubs.map((h) => Promise.race([metrics(h.port), sleep(10_000).then(() => new Map<string, number>())]).catch(() => new Map<string, number>())))]);
      return {
        t: at, cpu: c, pgReadings: count.readings,
        hubCommitted: ms.reduce((n, m) => n + (m.get('hearth_readings_committed_total') ?? NaN), 0),
        hubOnline: ms.reduce((n, m) => n + (m.get('hearth_devices_online') ?? NaN), 0),
        acked: sum(loaders, 'acked'), reconnects: sum(loaders, 'reconnects'), watchdogTimeouts: sum(loaders, 'watchdogTimeouts'), online: sum(loaders, 'online'),
      };
    };
    const s0 = await snap();
    const steady = await waitFor(guard, () => false, o.seconds * 1000, progress);
    const s1 = await snap();
    r.hubRssEndBytes = hubRss();
    r.steady = { from: s0, to: s1, ackLatency: loaders.map((l) => latest(l)['ackLatencyMs'] as { p50: number | null; p99: number | null }) };
    if (steady === 'stopped') r.stopped = `${guard.reason}, ${((s1.t - s0.t) / 1000).toFixed(0)} s into the steady window`;
    return r;
  } finally {
    guard.ending = true;
    r.memAvailableMinBytes = guard.minAvailable;
    guard.close();
    // Simulators first (SIGKILL: nothing more is measured), then each hub with SIGTERM (so BENCH_CPU_PROF's
    // profile is written), SIGKILL if it hangs; then the broker, the database, the temp dir.
    for (const l of loaders) l.proc.kill('SIGKILL');
    await Promise.all(loaders.map((l) => l.exited));
    await Promise.all(hubs.map(async (h) => {
      h.child.proc.kill('SIGTERM');
      const hung = setTimeout(() => h.child.proc.kill('SIGKILL'), 30_000);
      await h.child.exited;
      clearTimeout(hung);
    }));
    r.hubLog = hubWarnings(hubs);
    await store?.close().catch((err: unknown) => console.error('devices100k: closing the store:', err));
    await mosquitto?.stop();
    try {
      cluster?.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

function total(c: Snapshot['cpu']): number {
  return [...c.hubs, ...c.sims, c.pg, c.mosquitto, c.bench].filter(Number.isFinite).reduce((n, x) => n + x, 0);
}

/** The hubs' warnings and errors, counted by message (with its error's first 120 characters), most frequent first. */
function hubWarnings(hubs: Hub[]): string[] {
  const counts = new Map<string, number>();
  for (const h of hubs) {
    for (const l of h.child.lines) {
      if (Number(l.level) < 40) continue;
      const key = `${Number(l.level) >= 50 ? 'error' : 'warn'} "${String(l.msg)}"${l.err ? ` (${String((l.err as { message?: string }).message ?? l.err).slice(0, 120)})` : ''}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return [...counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n} x ${k}`);
}
