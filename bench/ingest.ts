// npm run bench -- ingest: readings/s committed and acknowledged by the hub with 1,000 devices over wss,
// side by side with a bare ws server that only decodes and acks (the ceiling); ACK latency at 10,000
// readings/s; memory per idle connection with 10,000 devices; disk writes per reading at 1,000, 10,000 and
// 100,000 readings/s (bench/ingest-wear.ts). Hub, baseline and load run in separate processes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateTls } from '../hub/tls.js';
import { formatWear, runIngestWearBench, type WearRow } from './ingest-wear.js';
import { BENCH_DIR, percentile, provisionFleet, rssOf, spawnNode, startHubProcess, type Child } from './proc.js';

export interface IngestBenchResult {
  devices: number;
  hubReadingsPerSec: number;
  bareReadingsPerSec: number;
  ratio: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyRate: number;
  idleConnections: number;
  bytesPerConnection: number;
  connectSeconds: number;
  /** Flash wear: hub write_bytes per reading committed, ACK latency and WAL size at fixed offered loads. */
  wear: WearRow[];
}

function provision(dataDir: string, n: number, prefix: string): string {
  return provisionFleet(dataDir, n, (i) => ({ id: `${prefix}-${String(i).padStart(5, '0')}` }));
}

async function startHub(dataDir: string): Promise<{ child: Child; url: string }> {
  const { child, url } = await startHubProcess(dataDir, ['--mqtt-embedded', 'false', '--devices-max-frames-per-second', '100000']);
  return { child, url: url.replace('https://', 'wss://') };
}

/** Readings/s acknowledged between `from` s and the end, from the loader's per-second lines. */
function steadyRate(lines: Record<string, unknown>[], fromSec: number): number {
  const ticks = lines.filter((l) => typeof l.acked === 'number' && Number(l.t) >= fromSec * 1000);
  if (ticks.length < 2) return 0;
  const a = ticks[0]!;
  const b = ticks[ticks.length - 1]!;
  return ((Number(b.acked) - Number(a.acked)) / (Number(b.t) - Number(a.t))) * 1000;
}

async function load(url: string, fleet: string, args: string[]): Promise<Child> {
  const child = spawnNode(join(BENCH_DIR, 'ingest-load.js'), ['--url', url, '--credentials', fleet, ...args]);
  await child.exited;
  return child;
}

export async function runIngestBench(opts: { devices?: number; seconds?: number; idle?: number } = {}): Promise<IngestBenchResult> {
  const devices = opts.devices ?? 1000;
  const seconds = opts.seconds ?? 12;
  const idle = opts.idle ?? 10_000;
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-ingest-'));
  try {
    const fleet = provision(dir, devices, 'dev');
    const tls = await loadOrCreateTls({ dataDir: dir });

    // 1. Ceiling: bare ws server, same TLS, same frames.
    const bare = spawnNode(join(BENCH_DIR, 'bare-ws-server.js'), [join(dir, 'tls', 'hub-cert.pem'), join(dir, 'tls', 'hub-key.pem')]);
    const { port } = (await bare.waitFor((l) => typeof l.port === 'number')) as { port: number };
    const bareLoad = await load(`wss://127.0.0.1:${port}`, fleet, ['--seconds', String(seconds)]);
    bare.proc.kill('SIGTERM');
    await bare.exited;
    const bareRate = steadyRate(bareLoad.lines, 4);

    // 2. Hearth: auth, validation, group commit into SQLite, ACK after commit.
    let hub = await startHub(dir);
    const hubLoad = await load(hub.url, fleet, ['--seconds', String(seconds)]);
    const hubRate = steadyRate(hubLoad.lines, 4);

    // 3. Latency at a fixed 10,000 readings/s, 2 readings per frame.
    const latencyRate = 10_000;
    const latLoad = await load(hub.url, fleet, ['--seconds', '8', '--rate', String(latencyRate), '--readings', '2']);
    const lat = latLoad.lines.filter((l) => Number(l.t) >= 3000).flatMap((l) => (l.lat as number[] | undefined) ?? []).sort((a, b) => a - b);
    hub.child.proc.kill('SIGTERM');
    await hub.child.exited;

    // 4. Idle connections: hub RSS growth per connection, and time to connect them all.
    const idleDir = mkdtempSync(join(tmpdir(), 'hearth-bench-idle-'));
    const idleFleet = provision(idleDir, idle, 'idle');
    hub = await startHub(idleDir);
    const before = rssOf(hub.child.proc.pid!);
    const idleLoad = spawnNode(join(BENCH_DIR, 'ingest-load.js'), ['--url', hub.url, '--credentials', idleFleet, '--idle', '--seconds', '3']);
    const all = await idleLoad.waitFor((l) => typeof l.connectedAll === 'number', 300_000);
    const after = rssOf(hub.child.proc.pid!);
    await idleLoad.exited;
    hub.child.proc.kill('SIGTERM');
    await hub.child.exited;
    rmSync(idleDir, { recursive: true, force: true });
    void tls;

    // 5. Disk writes per reading at fixed offered loads, each on a fresh database.
    const wear = await runIngestWearBench();

    return {
      devices,
      hubReadingsPerSec: hubRate,
      bareReadingsPerSec: bareRate,
      ratio: hubRate / bareRate,
      latencyP50Ms: percentile(lat, 50),
      latencyP99Ms: percentile(lat, 99),
      latencyRate,
      idleConnections: Number(all.connectedAll),
      bytesPerConnection: (after - before) / Math.max(1, Number(all.connectedAll)),
      connectSeconds: Number(all.t) / 1000,
      wear,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatIngest(r: IngestBenchResult): string {
  const k = (n: number) => Math.round(n).toLocaleString('en-US');
  return [
    '| measure | Hearth | baseline | ratio | target |',
    '| --- | --- | --- | --- | --- |',
    `| readings/s committed + acked, ${k(r.devices)} devices over wss, 8 readings/frame | ${k(r.hubReadingsPerSec)} | ${k(r.bareReadingsPerSec)} (bare ws: decode + ack only) | ${(r.ratio * 100).toFixed(0)}% | >= 100,000/s and >= 50% |`,
    `| device send -> ACK latency at ${k(r.latencyRate)} readings/s | p50 ${r.latencyP50Ms.toFixed(1)} ms, p99 ${r.latencyP99Ms.toFixed(1)} ms | | | |`,
    `| idle wss devices connected | ${k(r.idleConnections)} in ${r.connectSeconds.toFixed(1)} s | | | 10,000 |`,
    `| hub RSS growth per idle connection | ${(r.bytesPerConnection / 1024).toFixed(1)} KiB | | | |`,
    '',
    'Disk writes per reading (hub write_bytes from /proc/<pid>/io, all threads, over the steady window; the main',
    "thread's share is the commit path, the rest is compaction and its checkpoints), rate-mode load with a 1 ms tick:",
    '',
    formatWear(r.wear),
  ].join('\n');
}
