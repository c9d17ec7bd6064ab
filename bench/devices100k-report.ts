// The result of `npm run bench -- devices100k` (bench/devices100k.ts) and its markdown: one table of what was
// measured (a row says "not reached" when the run stopped before it), then ThingsBoard's scenario E beside it.
import { cpus, totalmem } from 'node:os';
import type { Devices100kOptions } from './devices100k.js';
import { THINGSBOARD, THINGSBOARD_NOTE } from './diy-bench.js';

/** Counters and CPU seconds at one instant of the steady window. */
export interface Snapshot {
  t: number;
  /** CPU seconds (user + system) so far: each hub, each simulator, PostgreSQL's process tree, Mosquitto (0 when none), this process. */
  cpu: { hubs: number[]; sims: number[]; pg: number; mosquitto: number; bench: number };
  /** Rows in PostgreSQL's readings table. */
  pgReadings: number;
  /** Sums over the hubs' /metrics: hearth_readings_committed_total, hearth_devices_online. */
  hubCommitted: number;
  hubOnline: number;
  /** Sums over the simulators' latest per-second lines; `acked` counts data frames. */
  acked: number;
  reconnects: number;
  watchdogTimeouts: number;
  online: number;
}

export interface Devices100kResult {
  options: Devices100kOptions;
  heartbeatMs: number;
  readingsPerTick: number;
  /** Devices per hub and per simulator process. */
  perHub: number[];
  perSim: number[];
  /** Why the run stopped before the end (what was measured until then is still here). */
  stopped?: string;
  /** Devices that completed a greeting at least once. */
  connected: number;
  /** Simulators started -> every device greeted. */
  connectSeconds?: number;
  rampReconnects?: number;
  rampRefusals?: number;
  /** Every process together over the ramp, % of one core. */
  rampCpuPercent?: number;
  warmupSeconds?: number;
  /** Each hub's RSS once started (before any device), once all connected (idle; or at the stop), after the steady window. */
  hubRssBaseBytes: number[];
  hubRssBytes: number[];
  hubRssEndBytes: number[];
  simRssBytes: number[];
  steady?: { from: Snapshot; to: Snapshot; ackLatency: { p50: number | null; p99: number | null }[] };
  memAvailableMinBytes: number;
  /** The hubs' warnings and errors, counted by message. */
  hubLog: string[];
}

const k = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const kib = (b: number) => (Number.isFinite(b) ? `${(b / 1024).toFixed(1)} KiB` : 'n/a');
const mib = (b: number) => (Number.isFinite(b) ? `${Math.round(b / 2 ** 20).toLocaleString('en-US')}` : 'n/a');
const ms = (x: number | null | undefined) => (typeof x === 'number' ? `${x.toFixed(1)} ms` : '-');
const pct = (x: number) => (Number.isFinite(x) ? `${x.toFixed(0)}%` : 'n/a');
const sumOf = (xs: number[]) => xs.filter(Number.isFinite).reduce((n, x) => n + x, 0);
const range = (xs: number[]) => (xs.length === 0 ? '-' : Math.min(...xs) === Math.max(...xs) ? k(xs[0]!) : `${k(Math.min(...xs))}-${k(Math.max(...xs))}`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? NaN;

/** The result as markdown (see the header). */
export function formatDevices100k(r: Devices100kResult): string {
  const o = r.options;
  const notReached = 'not reached (the run stopped first)';
  const rows: string[] = ['| devices100k | result |', '| --- | --- |'];
  const row = (what: string, value: string) => rows.push(`| ${what} | ${value} |`);
  const broker = o.broker === 'mosquitto' ? 'each hub bridges to one external Mosquitto, embedded broker off' : 'no MQTT (embedded broker off, no external broker)';
  row('devices over wss', `${k(o.devices)} on ${o.hubs} hub processes (${range(r.perHub)} each) on one PostgreSQL, from ${r.perSim.length} simulator processes (${range(r.perSim)} each, each on one hub); ${broker}`);
  if (r.stopped) row('**stopped early**', r.stopped);
  row('machine (hubs, simulators, PostgreSQL and Mosquitto all on it)', `${cpus().length} x ${cpus()[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, no swap; MemAvailable at its lowest ${(r.memAvailableMinBytes / 2 ** 30).toFixed(1)} GiB`);
  row(
    `time to connect them all, idle, at ${k(o.ramp)} new connections/s across the fleet (simulators started -> every device greeted)`,
    r.connectSeconds !== undefined
      ? `${r.connectSeconds.toFixed(1)} s (the ramp alone: ${(o.devices / o.ramp).toFixed(0)} s); ${k(r.rampReconnects ?? NaN)} reconnects, ${k(r.rampRefusals ?? NaN)} refusals meanwhile; every process together ${pct(r.rampCpuPercent ?? NaN)} of one core`
      : `${k(r.connected)} of ${k(o.devices)} connected`,
  );
  const grown = r.hubRssBytes.map((b, i) => b - (r.hubRssBaseBytes[i] ?? NaN));
  row('hub RSS per idle device (sum of the hubs\' growth from start to all connected / devices connected)', r.connected > 0 ? kib(sumOf(grown) / r.connected) : '-');
  const end = (i: number) => (r.hubRssEndBytes[i] === undefined ? '' : ` -> ${mib(r.hubRssEndBytes[i])}`);
  row(`hub RSS per hub, MiB (at start -> all connected${r.hubRssEndBytes.length > 0 ? ' -> after the steady window' : ''})`, r.hubRssBytes.map((b, i) => `${mib(r.hubRssBaseBytes[i] ?? NaN)} -> ${mib(b)}${end(i)}`).join(', ') || '-');
  const perSimDevice = r.simRssBytes.map((b, i) => b / (r.perSim[i] ?? NaN));
  row('simulator memory per device (RSS / devices: all simulators; worst process)', r.simRssBytes.length > 0 ? `${kib(sumOf(r.simRssBytes) / o.devices)}; ${kib(Math.max(...perSimDevice))}` : '-');
  const s = r.steady;
  if (!s) {
    row('steady window', notReached);
  } else {
    const sec = (s.to.t - s.from.t) / 1000;
    const per = (f: (x: Snapshot) => number) => (f(s.to) - f(s.from)) / sec;
    const committed = per((x) => x.pgReadings);
    row(`readings committed over ${sec.toFixed(0)} s after ${(r.warmupSeconds ?? 0).toFixed(0)} s of warm-up (first readings at ${k(o.prime)} devices/s, then the stream; offered ${k(o.rate)}/s = ${k(o.rate / r.readingsPerTick)} frames/s of ${r.readingsPerTick})`, `${k(committed)}/s counted in PostgreSQL (${k(committed / r.readingsPerTick)} frames/s); the hubs' counters ${k(per((x) => x.hubCommitted))}/s`);
    row('readings acked, as the devices saw them (frames acked x 3)', `${k(per((x) => x.acked) * r.readingsPerTick)}/s (${k(per((x) => x.acked))} frames/s)`);
    const p50 = s.ackLatency.map((x) => x?.p50 ?? NaN);
    const p99 = s.ackLatency.map((x) => x?.p99 ?? NaN);
    row('ACK latency seen by the devices, from the first readings on, warm-up included (worst simulator; median simulator)', `p50 ${ms(Math.max(...p50))}, p99 ${ms(Math.max(...p99))}; p50 ${ms(median(p50))}, p99 ${ms(median(p99))}`);
    row(
      `heartbeats over the window (ping every ${r.heartbeatMs / 1000} s, 2 missed pongs: offline)`,
      `${k(s.to.reconnects - s.from.reconnects)} reconnects, ${k(s.to.watchdogTimeouts - s.from.watchdogTimeouts)} missed heartbeats (device watchdog timeouts); online at the end: ${k(s.to.online)} (devices), ${k(s.to.hubOnline)} (hubs)`,
    );
    const c = (f: (x: Snapshot['cpu']) => number) => (100 * (f(s.to.cpu) - f(s.from.cpu))) / sec;
    const hubs = s.to.cpu.hubs.map((_, i) => c((x) => x.hubs[i]!));
    const sims = s.to.cpu.sims.map((_, i) => c((x) => x.sims[i]!));
    const [pg, mq, bench] = [c((x) => x.pg), c((x) => x.mosquitto), c((x) => x.bench)];
    const all = sumOf([...hubs, ...sims, pg, mq, bench]);
    row('CPU per process over the window, % of one core', `hubs ${hubs.map(pct).join(', ')} (sum ${pct(sumOf(hubs))}); simulators ${sims.map(pct).join(', ')} (sum ${pct(sumOf(sims))}); PostgreSQL ${pct(pg)}; Mosquitto ${o.broker === 'mosquitto' ? pct(mq) : '-'}; this bench ${pct(bench)}`);
    row('CPU, every process together', `${pct(all)} of one core (${pct(all / cpus().length)} of the machine's ${cpus().length} cores)`);
  }
  row('hub warnings and errors (whole run, by message)', r.hubLog.length === 0 ? 'none' : r.hubLog.slice(0, 6).join('; ').replace(/\|/g, '\\|'));

  const tb = ['| system | machine | devices | messages/s | data points/s | how long |', '| --- | --- | ---: | ---: | ---: | --- |'];
  const e = THINGSBOARD[0]!;
  tb.push(`| ${e.setup} (scenario E) | ${e.machine} | ${k(e.devices)} | ${k(e.msgs)} | ${k(e.msgs * e.points)} | 24 h+ (their method) |`);
  if (s) {
    const sec = (s.to.t - s.from.t) / 1000;
    const committed = (s.to.pgReadings - s.from.pgReadings) / sec;
    tb.push(`| Hearth (this run: ${o.hubs} hubs, PostgreSQL${o.broker === 'mosquitto' ? ', Mosquitto' : ''}; committed) | ${cpus().length} cores, shared with the simulators | ${k(s.to.online)} online | ${k(committed / r.readingsPerTick)} frames | ${k(committed)} readings | ${sec.toFixed(0)} s |`);
  }
  return [rows.join('\n'), tb.join('\n'), `One Hearth frame carries ${r.readingsPerTick} readings (on, power, energy of a smart plug), as ThingsBoard's message carries 3 data points. ${THINGSBOARD_NOTE}`].join('\n\n');
}
