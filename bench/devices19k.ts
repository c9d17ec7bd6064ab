// npm run bench -- devices19k [--devices N] [--seconds S]: 19,000 concurrent wss devices on one hub process
// (embedded MQTT broker on, as deployed) from several simulator processes of at most 4,750 devices each (a
// process may hold at most 20,000 open files, issue #17 §5). Measures the time to connect them all (idle: on
// this 2-core machine, streaming during the ramp stalled it, see BENCHMARKS.md), the hub's RSS per idle
// connection, then with every device streaming: heartbeats held over the steady window (devices.heartbeatMs 10 s: no pong missed, no
// reconnect), 10,000 readings/s from them committed (hub counter) and acknowledged (ACK p50/p99 seen by the
// devices), and each simulator's memory per device and CPU.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_DIR, cpuSecondsOf, provisionFleet, rssOf, spawnNode, startHubProcess, type Child } from './proc.js';

const PER_LOADER = 4750;
const MODEL = 'smart_plug';
/** Readings per tick of MODEL (on, power, energy): one TELEMETRY frame each tick. */
const READINGS_PER_TICK = 3;
const READINGS_PER_SECOND = 10_000;
const HEARTBEAT_MS = 10_000;

export interface Devices19kResult {
  devices: number;
  loaders: number;
  connectSeconds: number;
  hubRssPerConnectionBytes: number;
  hubRssBytes: number;
  steadySeconds: number;
  committedPerSecond: number;
  hubCpuPercent: number;
  reconnects: number;
  watchdogTimeouts: number;
  onlineAtEnd: number;
  ackP50: number | null;
  ackP99: number | null;
  simBytesPerDevice: number;
  simCpuPercent: number[];
}

/** A hub's /metrics, sample name (with labels) -> value. */
export function metrics(port: number): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path: '/metrics', rejectUnauthorized: false }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(new Map(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]))));
      })
      .on('error', reject);
  });
}

/** Each loader's latest per-second line; `sum` adds one of its counters over the loaders. */
export const latest = (l: Child) => l.lines.at(-1) ?? {};
export const sum = (loaders: Child[], key: string) => loaders.reduce((n, l) => n + Number(latest(l)[key] ?? 0), 0);

async function until(pred: () => boolean, timeoutMs: number, what: string, progress: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let shown = Date.now();
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`devices19k: ${what} not within ${timeoutMs} ms (${progress()})`);
    if (Date.now() - shown >= 10_000) {
      shown = Date.now();
      console.error(`devices19k: ${progress()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function runDevices19kBench(opts: { devices?: number; seconds?: number } = {}): Promise<Devices19kResult> {
  const n = opts.devices ?? 19_000;
  const seconds = opts.seconds ?? 60;
  const limit = Number(/Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? Infinity);
  if (limit < n + 500) throw new Error(`open-file limit ${limit} is too low for a hub of ${n} devices: run \`ulimit -n ${n + 1000}\` first`);
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-19k-'));
  const children: Child[] = [];
  try {
    const credentials = provisionFleet(dir, n, (i) => ({ id: `d${i}`, model: MODEL }));
    const { child: hub, port } = await startHubProcess(dir, ['--mqtt-port', '0', '--mqtt-tls-port', 'off', '--devices-heartbeat-ms', String(HEARTBEAT_MS)]);
    children.push(hub);
    const hubPid = hub.proc.pid!;
    const rssBefore = rssOf(hubPid);
    // The devices connect idle; once all are in, each loader streams its share of READINGS_PER_SECOND.
    const ticksPerSecond = READINGS_PER_SECOND / READINGS_PER_TICK;
    const loaders: Child[] = [];
    const started = Date.now();
    for (let from = 0; from < n; from += PER_LOADER) {
      const args = ['--url', `wss://127.0.0.1:${port}`, '--credentials', credentials, '--from', String(from), '--to', String(Math.min(n, from + PER_LOADER)), '--rate', '0', '--stream-rate', String((ticksPerSecond * (Math.min(n, from + PER_LOADER) - from)) / n), '--ca', join(dir, 'tls', 'hub-cert.pem')];
      const l = spawnNode(join(BENCH_DIR, 'devices19k-load.js'), args);
      loaders.push(l);
      children.push(l);
    }
    const progress = () =>
      `${sum(loaders, 'everConnected')} of ${n} ever connected, ${sum(loaders, 'online')} online, ${sum(loaders, 'reconnects')} reconnects, ${sum(loaders, 'refusals')} refusals, hub RSS ${Math.round(rssOf(hubPid) / 2 ** 20)} MiB`;
    await until(() => sum(loaders, 'everConnected') >= n, 300_000, 'every device connected', progress);
    const connectSeconds = (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 2000));
    const rssConnected = rssOf(hubPid);
    for (const l of loaders) l.proc.kill('SIGUSR2');
    // Settle (the first readings, the hub's mirror of their states), then the steady window.
    await new Promise((r) => setTimeout(r, 5000));
    const [m0, cpu0, t0] = [await metrics(port), cpuSecondsOf(hubPid), Date.now()];
    const [re0, wd0] = [sum(loaders, 'reconnects'), sum(loaders, 'watchdogTimeouts')];
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const [m1, cpu1, t1] = [await metrics(port), cpuSecondsOf(hubPid), Date.now()];
    const steady = (t1 - t0) / 1000;
    const reconnects = sum(loaders, 'reconnects') - re0;
    const watchdogTimeouts = sum(loaders, 'watchdogTimeouts') - wd0;
    const onlineAtEnd = sum(loaders, 'online');
    const committed = (m1.get('hearth_readings_committed_total') ?? 0) - (m0.get('hearth_readings_committed_total') ?? 0);
    for (const l of loaders) l.proc.kill('SIGTERM');
    const finals = await Promise.all(loaders.map((l) => l.waitFor((x) => x['final'] === true, 60_000)));
    const lat = finals.map((f) => f['ackLatencyMs'] as { p50: number | null; p99: number | null });
    const mem = finals.map((f) => (f['memory'] as { rssBytes: number }).rssBytes / Number(f['devices']));
    return {
      devices: n,
      loaders: loaders.length,
      connectSeconds,
      hubRssPerConnectionBytes: (rssConnected - rssBefore) / n,
      hubRssBytes: rssConnected,
      steadySeconds: steady,
      committedPerSecond: committed / steady,
      hubCpuPercent: (100 * (cpu1 - cpu0)) / steady,
      reconnects,
      watchdogTimeouts,
      onlineAtEnd,
      // Per process, whole run (connect ramp included); the worst process's figure.
      ackP50: Math.max(...lat.map((x) => x.p50 ?? 0)),
      ackP99: Math.max(...lat.map((x) => x.p99 ?? 0)),
      simBytesPerDevice: Math.max(...mem),
      simCpuPercent: finals.map((f) => (f['cpu'] as { percentOfOneCore: number }).percentOfOneCore),
    };
  } finally {
    // Loaders first, then the hub with SIGTERM (so BENCH_CPU_PROF's profile is written), SIGKILL if it hangs.
    for (const c of children.slice(1)) c.proc.kill('SIGKILL');
    children[0]?.proc.kill('SIGTERM');
    const hung = setTimeout(() => children[0]?.proc.kill('SIGKILL'), 20_000);
    await children[0]?.exited;
    clearTimeout(hung);
    await Promise.all(children.map((c) => c.exited));
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatDevices19k(r: Devices19kResult): string {
  const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
  return [
    '| devices19k | result |',
    '| --- | --- |',
    `| devices over wss, one hub process | ${r.devices.toLocaleString('en-US')} from ${r.loaders} simulator processes (at most ${PER_LOADER.toLocaleString('en-US')} each) |`,
    `| time to connect them all, idle (simulators started -> every device greeted) | ${r.connectSeconds.toFixed(1)} s |`,
    `| hub RSS per idle connection | ${kib(r.hubRssPerConnectionBytes)} (hub RSS ${Math.round(r.hubRssBytes / 2 ** 20)} MiB) |`,
    `| heartbeats over ${r.steadySeconds.toFixed(0)} s (ping every ${HEARTBEAT_MS / 1000} s) | ${r.reconnects} reconnects, ${r.watchdogTimeouts} watchdog timeouts, ${r.onlineAtEnd.toLocaleString('en-US')} online at the end |`,
    `| readings committed by the hub (target ${READINGS_PER_SECOND.toLocaleString('en-US')}/s) | ${Math.round(r.committedPerSecond).toLocaleString('en-US')}/s, hub CPU ${r.hubCpuPercent.toFixed(0)}% of one core |`,
    `| ACK latency seen by devices (worst process, from the start of streaming) | p50 ${r.ackP50?.toFixed(1) ?? '-'} ms, p99 ${r.ackP99?.toFixed(1) ?? '-'} ms |`,
    `| simulator memory per device (worst process, RSS / devices) | ${kib(r.simBytesPerDevice)} |`,
    `| simulator CPU per process (share of one core, whole run) | ${r.simCpuPercent.map((c) => `${c.toFixed(0)}%`).join(', ')} |`,
  ].join('\n');
}

/** `--devices N` and `--seconds S` of `npm run bench -- devices19k`. */
export function devices19kArgs(argv: string[]): { devices?: number; seconds?: number } {
  const at = (flag: string) => {
    const i = argv.indexOf(flag);
    return i > 0 ? Number(argv[i + 1]) : undefined;
  };
  const out: { devices?: number; seconds?: number } = {};
  const devices = at('--devices');
  const seconds = at('--seconds');
  if (devices !== undefined) out.devices = devices;
  if (seconds !== undefined) out.seconds = seconds;
  return out;
}
