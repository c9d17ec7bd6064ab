// npm run bench -- ingest: readings/s committed and acknowledged by the hub with 1,000 devices over wss,
// side by side with a bare ws server that only decodes and acks (the ceiling), in alternating rounds; ACK
// latency at 10,000 readings/s in repeated runs on a fresh hub, and once right after full load; memory per idle connection with 10,000 devices; disk writes per reading at 1,000, 10,000 and
// 100,000 readings/s (bench/ingest-wear.ts). Hub, baseline and load run in separate processes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateTls } from '../hub/tls.js';
import { formatWear, runIngestWearBench, WEAR_HISTORY_HOURS, type WearRow } from './ingest-wear.js';
import { BENCH_DIR, percentile, provisionFleet, rssOf, spawnNode, startHubProcess, type Child } from './proc.js';

export interface IngestBenchResult {
  devices: number;
  /** Full load, one entry per alternating round: bare ws ceiling and Hearth. */
  rounds: { hub: number; bare: number }[];
  /** ACK latency at latencyRate on a fresh hub, one entry per repeated run. */
  latency: { p50: number; p99: number }[];
  latencyRate: number;
  /** The same 10,000/s right after the full-load phase, while the hub still compacts what that phase wrote. */
  afterBurstP50Ms: number;
  afterBurstP99Ms: number;
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

export async function runIngestBench(opts: { devices?: number; seconds?: number; idle?: number; rounds?: number } = {}): Promise<IngestBenchResult> {
  const devices = opts.devices ?? 1000;
  const seconds = opts.seconds ?? 12;
  const idle = opts.idle ?? 10_000;
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-ingest-'));
  const cleanup: string[] = [];
  try {
    const fleet = provision(dir, devices, 'dev');
    const tls = await loadOrCreateTls({ dataDir: dir });

    // 1 and 2, in alternating rounds so that both see the same machine: the ceiling (bare ws server, same
    // TLS, same frames), then Hearth (auth, validation, group commit into SQLite, ACK after commit) on a
    // fresh database each round.
    const rounds: { hub: number; bare: number }[] = [];
    let hub: { child: Child; url: string } | undefined;
    let hubFleet = fleet;
    for (let round = 0; round < (opts.rounds ?? 3); round++) {
      const bare = spawnNode(join(BENCH_DIR, 'bare-ws-server.js'), [join(dir, 'tls', 'hub-cert.pem'), join(dir, 'tls', 'hub-key.pem')]);
      const { port } = (await bare.waitFor((l) => typeof l.port === 'number')) as { port: number };
      const bareLoad = await load(`wss://127.0.0.1:${port}`, fleet, ['--seconds', String(seconds)]);
      bare.proc.kill('SIGTERM');
      await bare.exited;
      if (hub) {
        hub.child.proc.kill('SIGTERM');
        await hub.child.exited;
      }
      const roundDir = mkdtempSync(join(tmpdir(), 'hearth-bench-round-'));
      cleanup.push(roundDir);
      hubFleet = provision(roundDir, devices, 'dev');
      hub = await startHub(roundDir);
      const hubLoad = await load(hub.url, hubFleet, ['--seconds', String(seconds)]);
      rounds.push({ bare: steadyRate(bareLoad.lines, 4), hub: steadyRate(hubLoad.lines, 4) });
    }

    // 3. Latency at a fixed 10,000 readings/s, 2 readings per frame: first right after the last full-load
    // round (the hub is still compacting the millions of readings it just wrote: a burst, not the steady
    // state), then in repeated runs on a fresh hub and database, which is what a fleet streaming 10,000/s sees.
    const latencyRate = 10_000;
    const latencyOf = async (url: string, credentials: string): Promise<number[]> => {
      const latLoad = await load(url, credentials, ['--seconds', '10', '--rate', String(latencyRate), '--readings', '2']);
      return latLoad.lines.filter((l) => Number(l.t) >= 3000).flatMap((l) => (l.lat as number[] | undefined) ?? []).sort((a, b) => a - b);
    };
    const afterBurst = await latencyOf(hub!.url, hubFleet);
    hub!.child.proc.kill('SIGTERM');
    await hub!.child.exited;
    const latDir = mkdtempSync(join(tmpdir(), 'hearth-bench-lat-'));
    cleanup.push(latDir);
    const latFleet = provision(latDir, devices, 'dev');
    hub = await startHub(latDir);
    const latRuns: { p50: number; p99: number }[] = [];
    for (let i = 0; i < 3; i++) {
      const lat = await latencyOf(hub.url, latFleet);
      latRuns.push({ p50: percentile(lat, 50), p99: percentile(lat, 99) });
    }
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
      rounds,
      latency: latRuns,
      latencyRate,
      afterBurstP50Ms: percentile(afterBurst, 50),
      afterBurstP99Ms: percentile(afterBurst, 99),
      idleConnections: Number(all.connectedAll),
      bytesPerConnection: (after - before) / Math.max(1, Number(all.connectedAll)),
      connectSeconds: Number(all.t) / 1000,
      wear,
    };
  } finally {
    for (const d of [dir, ...cleanup]) rmSync(d, { recursive: true, force: true });
  }
}

export function formatIngest(r: IngestBenchResult): string {
  const k = (n: number) => Math.round(n).toLocaleString('en-US');
  return [
    '| measure | Hearth | baseline | ratio | target |',
    '| --- | --- | --- | --- | --- |',
    ...r.rounds.map(
      (x, i) =>
        `| readings/s committed + acked, ${k(r.devices)} devices over wss, 8 readings/frame, round ${i + 1} | ${k(x.hub)} | ${k(x.bare)} (bare ws: decode + ack only) | ${((x.hub / x.bare) * 100).toFixed(0)}% | >= 100,000/s and >= 60% |`,
    ),
    ...r.latency.map(
      (x, i) =>
        `| device send -> ACK latency at ${k(r.latencyRate)} readings/s, fresh hub, run ${i + 1} | p50 ${x.p50.toFixed(1)} ms, p99 ${x.p99.toFixed(1)} ms | | | p50 <= 5 ms, p99 <= 20 ms |`,
    ),
    `| the same, right after the full-load phase (hub still compacting its readings) | p50 ${r.afterBurstP50Ms.toFixed(1)} ms, p99 ${r.afterBurstP99Ms.toFixed(1)} ms | | | |`,
    `| idle wss devices connected | ${k(r.idleConnections)} in ${r.connectSeconds.toFixed(1)} s | | | 10,000 |`,
    `| hub RSS growth per idle connection | ${(r.bytesPerConnection / 1024).toFixed(1)} KiB | | | |`,
    '',
    'Disk writes per reading (hub write_bytes from /proc/<pid>/io, all threads, over the steady window; the main',
    "thread's share is the commit path, the rest is compaction and its checkpoints), rate-mode load with a 1 ms tick,",
    `on a database holding ${WEAR_HISTORY_HOURS} h of history for every series (HEARTH_BENCH_WEAR_HISTORY_HOURS; 0: a fresh one):`,
    '',
    formatWear(r.wear),
  ].join('\n');
}
