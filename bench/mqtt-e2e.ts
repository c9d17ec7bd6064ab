// npm run bench -- mqtt: real devices -> hub (stored) -> embedded aedes -> two MQTT subscribers, each in its
// own process (issue #17 §1): one on `hearth/#` (everything: state, metric topics, readings streams) and one
// on `hearth/+/readings`. Latency is device send stamp -> subscriber receive on the readings stream, at 1,000,
// 20,000 and 50,000 readings/s and at full load, for frames of 1 reading (today's bench shape) and of 10
// readings (a device sending several metrics per TELEMETRY), beside the baseline of mqtt.js publishers
// straight into a bare aedes (bench/mqtt.ts).
//
// Run alone: node dist/bench/mqtt-e2e.js [row substring ...]; BENCH_HUB_FLAGS="--mqtt-state-min-interval-ms 0" adds hub
// flags; BENCH_CPU_PROF=<dir> writes the hub's CPU profile (node --cpu-prof) there.
// BENCH_TICK=<ms> sets the loader's rate tick (default 10: the frames due go out every 10 ms). The last column is
// the device send -> ACK latency the loader saw over the same window: the commit part of the MQTT latency.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UserStore } from '../hub/auth/user-store.js';
import { BENCH_DIR, hubScript, percentile, provisionFleet, spawnNode, type Child } from './proc.js';

export interface MqttE2eRow {
  scenario: string;
  /** Devices x readings per frame. */
  shape: string;
  offered: number;
  /** Readings/s at the `hearth/+/readings` subscriber. */
  delivered: number;
  p50: number;
  p99: number;
  /** Messages/s and readings-stream latency p99 at the `hearth/#` subscriber. */
  allMessages: number;
  allP99: number;
  /** Device send -> ACK (the commit) at the devices, over the same steady window. */
  ackP50: number;
  ackP99: number;
  /** Subscribers the hub closed as too slow (mqtt.maxClientBacklogBytes), with when: their figures are left out. */
  closed: string[];
}

interface Scenario {
  name: string;
  /** Readings/s offered; 0: full load (a window of 8 frames per device). */
  rate: number;
  devices: number;
  perFrame: number;
}

export const MQTT_E2E_SCENARIOS: Scenario[] = [
  { name: '1,000 readings/s', rate: 1000, devices: 100, perFrame: 1 },
  { name: '20,000 readings/s', rate: 20_000, devices: 200, perFrame: 1 },
  { name: '50,000 readings/s', rate: 50_000, devices: 200, perFrame: 1 },
  { name: 'full load (window 8)', rate: 0, devices: 200, perFrame: 1 },
  { name: '1,000 readings/s', rate: 1000, devices: 100, perFrame: 10 },
  { name: '20,000 readings/s', rate: 20_000, devices: 200, perFrame: 10 },
  { name: '50,000 readings/s', rate: 50_000, devices: 200, perFrame: 10 },
  { name: 'full load (window 8)', rate: 0, devices: 200, perFrame: 10 },
];

const SECONDS = 10;
/** Ticks before this are start-up (TLS handshakes of the fleet, first flushes). */
const STEADY_FROM_MS = 4000;

async function prepare(dir: string, devices: number): Promise<string> {
  const file = provisionFleet(dir, devices, (i) => ({ id: `d${i}` }));
  const users = new UserStore({ dataDir: dir });
  users.load();
  await users.add('bench', 'bench-password', 'integration');
  return file;
}

async function startHub(dir: string): Promise<{ hub: Child; url: string }> {
  const extra = (process.env['BENCH_HUB_FLAGS'] ?? '').split(/\s+/).filter((f) => f !== '');
  const [script, ...pre] = hubScript();
  const hub = spawnNode(script!, [
    ...pre, 'start', '--data-dir', dir, '--host', '127.0.0.1', '--port', '0', '--log-level', 'info', '--http-cap-loopback', 'false',
    '--mqtt-port', '0', '--mqtt-tls-port', 'off', '--devices-max-frames-per-second', '100000', ...extra,
  ]);
  const url = String((await hub.waitFor((l) => l.msg === 'hub listening')).url);
  return { hub, url };
}

function subscriberFigures(sub: Child): { rate: number; messages: number; lat: number[] } {
  const ticks = sub.lines.filter((l) => typeof l.count === 'number');
  const steady = ticks.filter((l) => Number(l.t) >= STEADY_FROM_MS && Number(l.t) <= (SECONDS + 1) * 1000);
  const first = steady[0];
  const last = steady.at(-1);
  const per = (key: string) => (first && last && last !== first ? ((Number(last[key]) - Number(first[key])) / (Number(last.t) - Number(first.t))) * 1000 : 0);
  const lat = steady.slice(1).flatMap((l) => (l.lat as number[]) ?? []).sort((a, b) => a - b);
  return { rate: per('count'), messages: per('messages'), lat };
}

async function scenario(s: Scenario): Promise<MqttE2eRow> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-mqtt-'));
  try {
    const fleet = await prepare(dir, s.devices);
    const { hub, url: httpsUrl } = await startHub(dir);
    const mqttLine = await hub.waitFor((l) => l.msg === 'MQTT bridge started');
    const mqttPort = (mqttLine.tcp as { port: number }).port;
    const subArgs = (filter: string) => ['--url', `mqtt://127.0.0.1:${mqttPort}`, '--username', 'bench', '--password', 'bench-password', '--filter', filter, '--seconds', String(SECONDS + 6)];
    const all = spawnNode(join(BENCH_DIR, 'mqtt-sub.js'), subArgs('hearth/#'));
    const readings = spawnNode(join(BENCH_DIR, 'mqtt-sub.js'), subArgs('hearth/+/readings'));
    await Promise.all([all.waitFor((l) => l.ready === true), readings.waitFor((l) => l.ready === true)]);
    const url = httpsUrl.replace('https://', 'wss://');
    const args = ['--url', url, '--credentials', fleet, '--seconds', String(SECONDS), '--readings', String(s.perFrame), '--stamp'];
    if (s.rate > 0) args.push('--rate', String(s.rate), '--tick', process.env['BENCH_TICK'] ?? '10');
    const load = spawnNode(join(BENCH_DIR, 'ingest-load.js'), args);
    await load.exited;
    const codes = await Promise.all([all.exited, readings.exited]);
    hub.proc.kill('SIGTERM');
    await hub.exited;
    if (process.env['BENCH_DEBUG']) {
      for (const l of hub.lines) if (Number(l.level) >= 40) process.stderr.write(`hub: ${JSON.stringify(l)}\n`);
      for (const [name, c] of [['all', all], ['readings', readings]] as const) {
        for (const l of c.lines) process.stderr.write(`${name}: ${JSON.stringify({ ...l, lat: Array.isArray(l.lat) ? l.lat.length : undefined })}\n`);
      }
    }
    // A subscriber the hub closed (mqtt.maxClientBacklogBytes) counts no more: its figures are left out and
    // the row says so, rather than reporting a part of the run as the whole.
    const closed: string[] = [];
    const ended = ([['hearth/#', all], ['hearth/+/readings', readings]] as const).map(([filter, c], i) => {
      const line = c.lines.find((l) => l.closed === true);
      if (codes[i] === 0 && !line) return false;
      closed.push(`${filter} closed by the hub ${line ? `at ${(Number(line.t) / 1000).toFixed(1)} s, after ${String(line.messages)} messages` : `(exit ${codes[i]})`}`);
      return true;
    });
    const none = { rate: NaN, messages: NaN, lat: [] as number[] };
    const r = ended[1] ? none : subscriberFigures(readings);
    const a = ended[0] ? none : subscriberFigures(all);
    const offeredTicks = load.lines.filter((l) => typeof l.acked === 'number' && Number(l.t) >= 3000);
    const ackLat = offeredTicks.slice(1).flatMap((l) => (l.lat as number[]) ?? []).sort((a, b) => a - b);
    const offered = offeredTicks.length >= 2
      ? ((Number(offeredTicks.at(-1)!.acked) - Number(offeredTicks[0]!.acked)) / (Number(offeredTicks.at(-1)!.t) - Number(offeredTicks[0]!.t))) * 1000
      : s.rate;
    return {
      scenario: s.name,
      shape: `${s.devices} devices x ${s.perFrame} reading${s.perFrame === 1 ? '' : 's'}/frame`,
      offered,
      delivered: r.rate,
      p50: percentile(r.lat, 50),
      p99: percentile(r.lat, 99),
      allMessages: a.messages,
      allP99: percentile(a.lat, 99),
      ackP50: percentile(ackLat, 50),
      ackP99: percentile(ackLat, 99),
      closed,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the scenarios (those whose "<name> <shape>" contains one of `only`, when given), one hub each. */
export async function runMqttE2eBench(only: string[] = []): Promise<MqttE2eRow[]> {
  const rows: MqttE2eRow[] = [];
  for (const s of MQTT_E2E_SCENARIOS) {
    const label = `${s.name} ${s.devices}x${s.perFrame}`;
    if (only.length > 0 && !only.some((o) => label.includes(o))) continue;
    const row = await scenario(s);
    process.stderr.write(`mqtt e2e ${label}: ${Math.round(row.offered)} acked/s, p50 ${row.p50.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms; ACK p50 ${row.ackP50.toFixed(2)} ms, p99 ${row.ackP99.toFixed(2)} ms\n`);
    rows.push(row);
  }
  return rows;
}

/** The rows as a markdown table. */
export function formatMqttE2e(rows: MqttE2eRow[]): string {
  const k = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
  const ms = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)} ms` : '-');
  return [
    '| device -> hub (stored) -> MQTT subscribers | frame shape | readings/s acked by hub | readings/s at `hearth/+/readings` | latency p50 | latency p99 | msgs/s at `hearth/#` | its readings p99 | device ACK p50 / p99 |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.scenario} | ${r.shape} | ${k(r.offered)} | ${k(r.delivered)} | ${ms(r.p50)} | ${ms(r.p99)} | ${k(r.allMessages)} | ${ms(r.allP99)} | ${Number.isNaN(r.ackP50) ? 'not timed (full load)' : `${r.ackP50.toFixed(1)} / ${r.ackP99.toFixed(1)} ms`} |`),
    ...rows.filter((r) => r.closed.length > 0).map((r) => `\n${r.scenario}, ${r.shape}: ${r.closed.join('; ')} (it fell more than mqtt.maxClientBacklogBytes behind); its figures are "-".`),
  ].join('\n');
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  runMqttE2eBench(process.argv.slice(2)).then(
    (rows) => console.log(formatMqttE2e(rows)),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
