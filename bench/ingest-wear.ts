// Disk writes per reading (flash wear, issue #17 section 2), part of `npm run bench -- ingest`: the hub
// takes a fixed offered load for a while and /proc/<hub>/io's write_bytes (every thread: the commit path on
// the main thread, compaction and its checkpoints in the worker) is divided by the readings committed in
// the same steady window. The WAL's size is sampled throughout. Each rate gets a fresh copy of one database.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadOrCreateTls } from '../hub/tls.js';
import { BENCH_DIR, percentile, provisionFleet, spawnNode, startHubProcess } from './proc.js';

/** One offered load: readings/s across the fleet, fleet size, readings per TELEMETRY frame. */
export interface WearLoad {
  rate: number;
  devices: number;
  perFrame: number;
}

export const WEAR_LOADS: WearLoad[] = [
  { rate: 1_000, devices: 40, perFrame: 2 },
  { rate: 10_000, devices: 1_000, perFrame: 2 },
  { rate: 100_000, devices: 1_000, perFrame: 8 },
];

export interface WearRow extends WearLoad {
  /** Readings/s acknowledged (so committed) in the steady window. */
  committedPerSec: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** write_bytes of the whole hub process over the window / readings committed in it. */
  bytesPerReading: number;
  /** The same for the main thread alone (the commit path; the hub's own checkpoints when compaction is off). */
  mainBytesPerReading: number;
  /** Largest WAL file seen, bytes. */
  walMaxBytes: number;
  windowSeconds: number;
}

/** write_bytes of a process (all its threads, live and exited) and of its main thread, from /proc. */
export function writeBytesOf(pid: number): { total: number; main: number } {
  const field = (text: string) => Number(/write_bytes:\s+(\d+)/.exec(text)?.[1] ?? 0);
  return { total: field(readFileSync(`/proc/${pid}/io`, 'utf8')), main: field(readFileSync(`/proc/${pid}/task/${pid}/io`, 'utf8')) };
}

function walSize(dbPath: string): number {
  try {
    return statSync(`${dbPath}-wal`).size;
  } catch {
    return 0;
  }
}

/** Extra hub flags for A/B runs, e.g. HEARTH_BENCH_HUB_FLAGS='--ingest-commit-window-ms 0'. */
function extraFlags(): string[] {
  const s = process.env.HEARTH_BENCH_HUB_FLAGS?.trim();
  return s ? s.split(/\s+/) : [];
}

async function runOne(template: string, fleet: string, load: WearLoad, seconds: number, warmup: number): Promise<WearRow> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-wear-'));
  try {
    for (const f of readdirSync(template)) cpSync(join(template, f), join(dir, f), { recursive: true });
    const { child: hub, url } = await startHubProcess(dir, ['--mqtt-embedded', 'false', '--devices-max-frames-per-second', '100000', ...extraFlags()]);
    const pid = hub.proc.pid!;
    const dbPath = join(dir, 'hearth.db');
    let walMax = 0;
    const poll = setInterval(() => (walMax = Math.max(walMax, walSize(dbPath))), 50);
    // Sampled as each per-second line of the loader arrives, so bytes and readings cover the same window.
    const samples: { t: number; acked: number; total: number; main: number }[] = [];
    const lat: number[] = [];
    const loader = spawnNode(join(BENCH_DIR, 'ingest-load.js'), [
      '--url', url.replace('https://', 'wss://'), '--credentials', fleet, '--seconds', String(seconds),
      '--rate', String(load.rate), '--readings', String(load.perFrame), '--tick', '1',
    ], process.env, (line) => {
      if (typeof line.acked !== 'number') return;
      const t = Number(line.t);
      const io = writeBytesOf(pid);
      samples.push({ t, acked: line.acked, ...io });
      if (samples.length > warmup) lat.push(...((line.lat as number[] | undefined) ?? []));
    });
    await loader.exited;
    clearInterval(poll);
    hub.proc.kill('SIGTERM');
    await hub.exited;
    const a = samples[Math.min(warmup, samples.length - 2)]!;
    const b = samples[samples.length - 1]!;
    const readings = Math.max(1, b.acked - a.acked);
    lat.sort((x, y) => x - y);
    return {
      ...load,
      committedPerSec: (readings / (b.t - a.t)) * 1000,
      latencyP50Ms: percentile(lat, 50),
      latencyP99Ms: percentile(lat, 99),
      bytesPerReading: (b.total - a.total) / readings,
      mainBytesPerReading: (b.main - a.main) / readings,
      walMaxBytes: walMax,
      windowSeconds: (b.t - a.t) / 1000,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs each load on a fresh copy of a database provisioned with the largest fleet; `seconds` per load. */
export async function runIngestWearBench(opts: { loads?: WearLoad[]; seconds?: number; warmup?: number } = {}): Promise<WearRow[]> {
  const loads = opts.loads ?? WEAR_LOADS;
  const seconds = opts.seconds ?? 25;
  const warmup = opts.warmup ?? 4;
  const rows: WearRow[] = [];
  for (const load of loads) {
    const template = mkdtempSync(join(tmpdir(), 'hearth-bench-wear-template-'));
    try {
      const fleet = provisionFleet(template, load.devices, (i) => ({ id: `wear-${String(i).padStart(5, '0')}` }));
      await loadOrCreateTls({ dataDir: template });
      rows.push(await runOne(template, fleet, load, seconds, warmup));
    } finally {
      rmSync(template, { recursive: true, force: true });
    }
  }
  return rows;
}

export function formatWear(rows: WearRow[]): string {
  const k = (n: number) => Math.round(n).toLocaleString('en-US');
  return [
    '| offered readings/s (devices, readings/frame) | committed/s | ACK p50 / p99 | hub write_bytes per reading (main thread) | WAL max | target |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) =>
      `| ${k(r.rate)} (${k(r.devices)}, ${r.perFrame}) | ${k(r.committedPerSec)} | ${r.latencyP50Ms.toFixed(1)} / ${r.latencyP99Ms.toFixed(1)} ms | ` +
      `${k(r.bytesPerReading)} B (${k(r.mainBytesPerReading)} B) over ${r.windowSeconds.toFixed(0)} s | ${(r.walMaxBytes / 2 ** 20).toFixed(1)} MiB | <= 100 B |`),
  ].join('\n');
}

// Direct run for quick A/B work: node dist/bench/ingest-wear.js [rate ...] (prints the table, appends nothing).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const rates = process.argv.slice(2).map(Number).filter((n) => n > 0);
  const loads = rates.length ? WEAR_LOADS.filter((l) => rates.includes(l.rate)) : WEAR_LOADS;
  const seconds = Number(process.env.HEARTH_BENCH_SECONDS ?? 25);
  void runIngestWearBench({ loads, seconds }).then((rows) => console.log(formatWear(rows)));
}
