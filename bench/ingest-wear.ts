// Disk writes per reading (flash wear, issue #17 section 2), part of `npm run bench -- ingest`: the hub
// takes a fixed offered load for a while and /proc/<hub>/io's write_bytes (every thread: the commit path on
// the main thread, compaction and its checkpoints in the worker) is divided by the readings committed in
// the same steady window. The WAL's size is sampled throughout. Each rate gets a database of its own, which
// holds hours of history for every series the load writes, as the database of a hub that has run for a
// while does: where compaction's writes land in the indexes depends on it (HEARTH_BENCH_WEAR_HISTORY_HOURS).
// The hub runs on the file SQLite wrote, not on a copy: write_bytes charges a whole page-cache folio when a
// 4 KiB page of it is dirtied, and a copied file (or one read cold with readahead) sits in large folios, which
// tripled the figure at 10,000 readings/s (973 against 297 B a reading) while the device wrote the same
// (281 and 277 B, /sys/block/<dev>/stat). The device's own count over the window is reported beside it.
import { closeSync, fsyncSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeChunk } from '../hub/storage/chunk-codec.js';
import { CHUNK_MAX_READINGS } from '../hub/storage/compaction/pass.js';
import { openDatabase } from '../hub/storage/database.js';
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
  /**
   * Bytes the block device under the database wrote over the window (/sys/dev/block/<dev>/stat), every
   * process and the filesystem's journal included, / readings committed; NaN where there is no such device.
   */
  deviceBytesPerReading: number;
  /** Largest WAL file seen, bytes. */
  walMaxBytes: number;
  windowSeconds: number;
  /** Hours of history the database held before the load (see prefillHistory). */
  historyHours: number;
}

/** write_bytes of a process (all its threads, live and exited) and of its main thread, from /proc. */
export function writeBytesOf(pid: number): { total: number; main: number } {
  const field = (text: string) => Number(/write_bytes:\s+(\d+)/.exec(text)?.[1] ?? 0);
  return { total: field(readFileSync(`/proc/${pid}/io`, 'utf8')), main: field(readFileSync(`/proc/${pid}/task/${pid}/io`, 'utf8')) };
}

/** Bytes written so far by the block device holding `path` (sectors written x 512), NaN if unknown. */
export function deviceWrittenBytes(path: string): number {
  try {
    const dev = statSync(path).dev;
    const major = (dev >> 8) & 0xfff;
    const minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
    return Number(readFileSync(`/sys/dev/block/${major}:${minor}/stat`, 'utf8').trim().split(/\s+/)[6]) * 512;
  } catch {
    return Number.NaN;
  }
}

function walSize(dbPath: string): number {
  try {
    return statSync(`${dbPath}-wal`).size;
  } catch {
    return 0;
  }
}

/** Hours of history the database holds before the load starts; 0: a fresh database. */
export const WEAR_HISTORY_HOURS = Number(process.env.HEARTH_BENCH_WEAR_HISTORY_HOURS ?? 6);
/** Sealed chunks of history per series (a chunk of 128 readings every ~72 s over 6 hours: ~1.8 readings/s). */
const HISTORY_CHUNKS_PER_HOUR = 50;

/**
 * Gives every series the load will write (`m1`.. `m<perFrame>` of each device, floats, as ingest-load.ts
 * sends) `hours` of history ending a minute ago: sealed chunks, one minute and one hour rollup row per bucket
 * and a latest value, inserted in time order across series as a running hub writes them. A hub that has
 * run for hours holds each series' index entries on pages of their own, so a compaction pass writes a page
 * wherever its writes land per series; a fresh database holds every series on the same few pages and hides
 * that. The sealed chunks hold two readings each (their row count and keys are what matters, not their
 * size); each series' newest chunk is open, holding 1 to CHUNK_MAX_READINGS - 1 readings spread evenly over the
 * series, so that chunks fill and new ones start at their steady rate in any window, not all at once.
 */
export function prefillHistory(dbPath: string, deviceIds: readonly string[], perFrame: number, hours: number): void {
  if (hours <= 0) return;
  const db = openDatabase(dbPath);
  try {
    const series: number[] = [];
    const addSeries = db.prepare("INSERT INTO series (device_id, metric, value_type) VALUES (?, ?, 'float')");
    db.transaction(() => {
      for (const id of deviceIds) for (let m = 1; m <= perFrame; m++) series.push(Number(addSeries.run(id, `m${m}`).lastInsertRowid));
    })();
    const end = Date.now() - 60_000;
    const start = end - hours * 3_600_000;
    const chunk = db.prepare('INSERT INTO chunks (series, t_min, t_max, n, data) VALUES (?, ?, ?, 2, ?)');
    const minute = db.prepare('INSERT INTO rollup_minute (series, bucket, min, max, sum, count) VALUES (?, ?, 20, 21, 2050, 100)');
    const hour = db.prepare('INSERT INTO rollup_hour (series, bucket, min, max, sum, count) VALUES (?, ?, 20, 21, 123000, 6000)');
    const open = db.prepare('INSERT INTO chunks (series, t_min, t_max, n, data) VALUES (?, ?, ?, ?, ?)');
    const latest = db.prepare('INSERT INTO series_latest (series, ts, value) VALUES (?, ?, 20.5)');
    const chunkEvery = 3_600_000 / HISTORY_CHUNKS_PER_HOUR;
    let nextChunk = start;
    // One transaction per minute of history, in time order: chunks, then that minute's rollups.
    for (let bucket = start - (start % 60_000); bucket < end; bucket += 60_000) {
      db.transaction(() => {
        for (; nextChunk < Math.min(bucket + 60_000, end); nextChunk += chunkEvery) {
          const t = Math.floor(nextChunk);
          const data = encodeChunk([t, t + 1000], [{ type: 'float', value: 20 }, { type: 'float', value: 21 }]);
          for (const s of series) chunk.run(s, t, t + 1000, data);
        }
        for (const s of series) minute.run(s, bucket);
        if (bucket % 3_600_000 === 0) for (const s of series) hour.run(s, bucket);
      })();
    }
    db.transaction(() => {
      series.forEach((s, i) => {
        const n = 1 + ((i * 7919) % (CHUNK_MAX_READINGS - 1));
        const ts = Array.from({ length: n }, (_, k) => end + Math.floor((k * 30_000) / n));
        const data = encodeChunk(ts, ts.map((_, k) => ({ type: 'float' as const, value: 20 + (k % 10) / 10 })));
        open.run(s, ts[0]!, ts[n - 1]!, n, data);
        latest.run(s, ts[n - 1]!);
      });
    })();
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
  // On the device before the load starts, so that its writeback does not count in the window.
  const fd = openSync(dbPath, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Extra hub flags for A/B runs, e.g. HEARTH_BENCH_HUB_FLAGS='--ingest-commit-window-ms 0'. */
function extraFlags(): string[] {
  const s = process.env.HEARTH_BENCH_HUB_FLAGS?.trim();
  return s ? s.split(/\s+/) : [];
}

async function runOne(dir: string, fleet: string, load: WearLoad, seconds: number, warmup: number, historyHours: number): Promise<WearRow> {
  const { child: hub, url } = await startHubProcess(dir, ['--mqtt-embedded', 'false', '--devices-max-frames-per-second', '100000', ...extraFlags()]);
  const pid = hub.proc.pid!;
  const dbPath = join(dir, 'hearth.db');
  let walMax = 0;
  const poll = setInterval(() => (walMax = Math.max(walMax, walSize(dbPath))), 50);
  // Sampled as each per-second line of the loader arrives, so bytes and readings cover the same window.
  const samples: { t: number; acked: number; total: number; main: number; device: number }[] = [];
  const lat: number[] = [];
  const loader = spawnNode(join(BENCH_DIR, 'ingest-load.js'), [
    '--url', url.replace('https://', 'wss://'), '--credentials', fleet, '--seconds', String(seconds),
    '--rate', String(load.rate), '--readings', String(load.perFrame), '--tick', '1',
  ], process.env, (line) => {
    if (typeof line.acked !== 'number') return;
    const t = Number(line.t);
    const io = writeBytesOf(pid);
    samples.push({ t, acked: line.acked, ...io, device: deviceWrittenBytes(dbPath) });
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
    deviceBytesPerReading: (b.device - a.device) / readings,
    walMaxBytes: walMax,
    windowSeconds: (b.t - a.t) / 1000,
    historyHours,
  };
}

/** Runs each load on a database of its own, provisioned with its fleet and history; `seconds` per load. */
export async function runIngestWearBench(
  opts: { loads?: WearLoad[]; seconds?: number; warmup?: number; historyHours?: number } = {},
): Promise<WearRow[]> {
  const loads = opts.loads ?? WEAR_LOADS;
  const historyHours = opts.historyHours ?? WEAR_HISTORY_HOURS;
  const seconds = opts.seconds ?? 25;
  const warmup = opts.warmup ?? 4;
  const rows: WearRow[] = [];
  for (const load of loads) {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-wear-'));
    try {
      const id = (i: number): string => `wear-${String(i).padStart(5, '0')}`;
      const fleet = provisionFleet(dir, load.devices, (i) => ({ id: id(i) }));
      prefillHistory(join(dir, 'hearth.db'), Array.from({ length: load.devices }, (_, i) => id(i)), load.perFrame, historyHours);
      await loadOrCreateTls({ dataDir: dir });
      rows.push(await runOne(dir, fleet, load, seconds, warmup, historyHours));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

export function formatWear(rows: WearRow[]): string {
  const k = (n: number) => Math.round(n).toLocaleString('en-US');
  return [
    '| offered readings/s (devices, readings/frame), history | committed/s | ACK p50 / p99 | hub write_bytes per reading (main thread) | device writes per reading (whole machine) | WAL max | target |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) =>
      `| ${k(r.rate)} (${k(r.devices)}, ${r.perFrame}), ${r.historyHours > 0 ? `${r.historyHours} h` : 'none'} | ${k(r.committedPerSec)} | ${r.latencyP50Ms.toFixed(1)} / ${r.latencyP99Ms.toFixed(1)} ms | ` +
      `${k(r.bytesPerReading)} B (${k(r.mainBytesPerReading)} B) over ${r.windowSeconds.toFixed(0)} s | ` +
      `${Number.isNaN(r.deviceBytesPerReading) ? '-' : `${k(r.deviceBytesPerReading)} B`} | ${(r.walMaxBytes / 2 ** 20).toFixed(1)} MiB | <= 100 B |`),
  ].join('\n');
}

// Direct run for quick A/B work: node dist/bench/ingest-wear.js [rate ...] (prints the table, appends nothing).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const rates = process.argv.slice(2).map(Number).filter((n) => n > 0);
  const loads = rates.length ? WEAR_LOADS.filter((l) => rates.includes(l.rate)) : WEAR_LOADS;
  const seconds = Number(process.env.HEARTH_BENCH_SECONDS ?? 25);
  void runIngestWearBench({ loads, seconds }).then((rows) => console.log(formatWear(rows)));
}
