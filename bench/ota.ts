// npm run bench -- ota: a firmware rollout (firmware-protocol.md section 14) of a 1 MiB image to 100 simulated
// devices, while 100 other devices stream telemetry; measures the rollout's duration, the hub's CPU during it,
// the streamers' device send -> ACK latency (p50, p99) against the same streaming without a rollout, and the
// hub's event-loop delay (p99, max) in each phase, read from its /metrics (nodejs_eventloop_lag_seconds, a
// window per scrape: scraped once to open a phase, once to close it), so a latency tail shows its cause.
// Sizes: OTA_DEVICES (100), OTA_STREAMERS (100), OTA_IMAGE_BYTES (1048576), OTA_RATE readings/s across the
// streamers (2000), OTA_BASELINE_SECONDS (15); OTA_HUB_FLAGS adds hub flags (`--firmware-max-bytes-per-second
// 8388608`), to compare settings. Smoke run that leaves BENCHMARKS.md alone:
//   npm run build && OTA_DEVICES=5 OTA_STREAMERS=5 OTA_BASELINE_SECONDS=4 node dist/bench/ota.js
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_DIR, cpuSecondsOf, percentile, provisionFleet, spawnNode, startHubProcess, type Child } from './proc.js';

export interface OtaBenchOptions {
  devices: number;
  streamers: number;
  imageBytes: number;
  rate: number;
  baselineSeconds: number;
}

export interface OtaRow extends OtaBenchOptions {
  rolloutSeconds: number;
  done: number;
  failed: number;
  hubCpuSeconds: number;
  /** Hub CPU during the rollout, percent of one core. */
  hubCpuPercent: number;
  /** CPU of the two load processes (updating devices, streamers) during the rollout, percent of one core: on a
   * small machine they compete with the hub, and their own delays show in the streamers' latency. */
  updatersCpuPercent: number;
  streamersCpuPercent: number;
  baseline: { p50: number; p99: number; samples: number };
  during: { p50: number; p99: number; samples: number };
  /** The hub's event-loop delay, ms, over the baseline and over the rollout. */
  loopBaseline: LoopDelay;
  loopDuring: LoopDelay;
}

/** Event-loop delay of the hub over one phase, ms. */
export interface LoopDelay {
  p99: number;
  max: number;
}

const MODEL = 'Hearth Sim Plug P1';

export function otaOptionsFromEnv(env = process.env): OtaBenchOptions {
  const n = (name: string, fallback: number) => (env[name] === undefined ? fallback : Number(env[name]));
  return { devices: n('OTA_DEVICES', 100), streamers: n('OTA_STREAMERS', 100), imageBytes: n('OTA_IMAGE_BYTES', 1024 * 1024), rate: n('OTA_RATE', 2000), baselineSeconds: n('OTA_BASELINE_SECONDS', 15) };
}

function request(port: number, token: string, method: string, path: string, body?: Buffer, type = 'application/json'): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const headers = { authorization: `Bearer ${token}`, ...(body ? { 'content-type': type, 'content-length': body.length } : {}) };
    const req = https.request({ host: '127.0.0.1', port, method, path, headers, rejectUnauthorized: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The hub's event-loop delay since the previous scrape of /metrics (which starts a new window). */
function loopDelay(port: number, token: string): Promise<LoopDelay> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: '/metrics', headers: { authorization: `Bearer ${token}` }, rejectUnauthorized: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        const q = (quantile: string) => Number(new RegExp(`^nodejs_eventloop_lag_seconds\\{quantile="${quantile}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) * 1000;
        resolve({ p99: q('0.99'), max: q('1') });
      });
    });
    req.on('error', reject);
  });
}

/** Latencies of the lines a streamer printed in [from, to). */
function latencies(load: Child, from: number, to: number): number[] {
  return load.lines.slice(from, to).flatMap((l) => (l.lat as number[] | undefined) ?? []).sort((a, b) => a - b);
}

function summary(lat: number[]): { p50: number; p99: number; samples: number } {
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), samples: lat.length };
}

function streamers(url: string, credentials: string, o: OtaBenchOptions, seconds: number): Child {
  return spawnNode(join(BENCH_DIR, 'ingest-load.js'), ['--url', url, '--credentials', credentials, '--seconds', String(seconds), '--rate', String(o.rate), '--readings', '2']);
}

/** Runs the baseline and the rollout on one hub process; the data directory is removed afterwards. */
export async function runOtaBench(o: OtaBenchOptions = otaOptionsFromEnv()): Promise<OtaRow> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hearth-bench-ota-'));
  const streamFleet = provisionFleet(dataDir, o.streamers, (i) => ({ id: `stream-${i}` }));
  renameSync(streamFleet, join(dataDir, 'streamers.json'));
  const updateFleet = provisionFleet(dataDir, o.devices, (i) => ({ id: `ota-${i}`, model: 'smart_plug' }));
  const extra = (process.env.OTA_HUB_FLAGS ?? '').split(' ').filter((f) => f !== '');
  const hub = await startHubProcess(dataDir, ['--devices-max-frames-per-second', '1000', '--mqtt-port', '0', '--mqtt-tls-port', 'off', ...extra]);
  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  const pid = hub.child.proc.pid!;
  try {
    // Without a rollout: the streamers alone (the first 3 s of connecting are left out).
    const base = streamers(hub.url, join(dataDir, 'streamers.json'), o, o.baselineSeconds);
    await base.waitFor((l) => Number(l.t) >= 3000, 60_000);
    await loopDelay(hub.port, token);
    await base.exited;
    const loopBaseline = await loopDelay(hub.port, token);
    const baseline = summary(latencies(base, 3, base.lines.length));

    const updaters = spawnNode(join(BENCH_DIR, 'ota-load.js'), ['--url', hub.url, '--credentials', updateFleet]);
    await updaters.waitFor((l) => l.connectedAll !== undefined, 180_000);
    const load = streamers(hub.url, join(dataDir, 'streamers.json'), o, 3600);
    await load.waitFor((l) => Number(l.t) >= 3000 && l.lat !== undefined, 60_000);
    const image = randomBytes(o.imageBytes);
    const added = await request(hub.port, token, 'POST', `/api/firmware?model=${encodeURIComponent(MODEL)}&version=bench-2`, image, 'application/octet-stream');
    if (added.status >= 300) throw new Error(`POST /api/firmware: ${added.status} ${JSON.stringify(added.json)}`);
    const from = load.lines.length;
    await loopDelay(hub.port, token);
    const cpu0 = cpuSecondsOf(pid);
    const loadCpu0 = [cpuSecondsOf(updaters.proc.pid!), cpuSecondsOf(load.proc.pid!)];
    const t0 = performance.now();
    const queued = await request(hub.port, token, 'POST', '/api/firmware/updates', Buffer.from(JSON.stringify({ model: MODEL, version: 'bench-2' })));
    if (queued.status !== 202 || queued.json.queued.length !== o.devices) throw new Error(`POST /api/firmware/updates: ${queued.status} ${JSON.stringify(queued.json).slice(0, 300)}`);
    let done = 0;
    let failed = 0;
    for (;;) {
      const list = await request(hub.port, token, 'GET', '/api/firmware');
      const mine = (list.json.updates as { state: string; version: string }[]).filter((u) => u.version === 'bench-2');
      done = mine.filter((u) => u.state === 'done').length;
      failed = mine.filter((u) => u.state === 'failed' || u.state === 'rolled_back').length;
      if (done + failed >= o.devices) break;
      if (performance.now() - t0 > 600_000) throw new Error(`rollout not finished after 600 s: ${done} done, ${failed} failed`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuSecondsOf(pid) - cpu0;
    const [updatersCpu, streamersCpu] = [cpuSecondsOf(updaters.proc.pid!) - loadCpu0[0]!, cpuSecondsOf(load.proc.pid!) - loadCpu0[1]!];
    const loopDuring = await loopDelay(hub.port, token);
    const during = summary(latencies(load, from, load.lines.length));
    load.proc.kill();
    updaters.proc.kill();
    return { ...o, rolloutSeconds: seconds, done, failed, hubCpuSeconds: cpu, hubCpuPercent: (cpu / seconds) * 100, updatersCpuPercent: (updatersCpu / seconds) * 100, streamersCpuPercent: (streamersCpu / seconds) * 100, baseline, during, loopBaseline, loopDuring };
  } finally {
    hub.child.proc.kill('SIGTERM');
    await hub.child.exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export function formatOta(r: OtaRow): string {
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  return [
    `Rollout of a ${(r.imageBytes / 1024).toFixed(0)} KiB image to ${r.devices} simulated devices (firmware.concurrency default), while ${r.streamers} other devices stream ${r.rate} readings/s; hub in its own process.`,
    '',
    '| measure | value |',
    '| --- | --- |',
    `| rollout time (POST /api/firmware/updates -> every device back with the new version) | ${r.rolloutSeconds.toFixed(1)} s (${r.done} done, ${r.failed} failed) |`,
    `| hub CPU during the rollout | ${r.hubCpuSeconds.toFixed(1)} s, ${r.hubCpuPercent.toFixed(0)} % of one core |`,
    `| load processes' CPU during the rollout (same machine) | updating devices ${r.updatersCpuPercent.toFixed(0)} %, streamers ${r.streamersCpuPercent.toFixed(0)} % of one core |`,
    `| streamers' send -> ACK latency without a rollout | p50 ${ms(r.baseline.p50)}, p99 ${ms(r.baseline.p99)} (${r.baseline.samples} frames) |`,
    `| streamers' send -> ACK latency during the rollout | p50 ${ms(r.during.p50)}, p99 ${ms(r.during.p99)} (${r.during.samples} frames) |`,
    `| hub event-loop delay without a rollout | p99 ${ms(r.loopBaseline.p99)}, max ${ms(r.loopBaseline.max)} |`,
    `| hub event-loop delay during the rollout | p99 ${ms(r.loopDuring.p99)}, max ${ms(r.loopDuring.max)} |`,
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runOtaBench().then((r) => console.log(formatOta(r)), (err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
