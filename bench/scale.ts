// npm run bench -- scale [--devices N] [--seconds S] [--warmup S] [--rate R] [--latency-seconds S] [--equal-rate R] [--hubs 1,2,3]
// [--rounds N] [--readings N] [--only hubs|store]: issue #16 section 4 in one run, two sections.
// 1. Hub level (bench/scale-hubs.ts): readings/s committed and acked and ACK latency p50/p99 for one hub on
//    SQLite and one, two and three hubs on one PostgreSQL, with the CPU of every process, readings per hub
//    CPU-second and per CPU-second of hubs + database, bytes per reading on PostgreSQL, the handover time.
// 2. Store level: the same batches, as the hub's group commit makes them (1,000 devices x 8 metrics, 4,000
//    readings per commit, one commit at a time), committed through HubStore (SQLite) and PgStore (a throwaway
//    local cluster): readings/s, commit latency p50/p99, CPU of this process and of the PostgreSQL server's
//    processes, and bytes per reading on PostgreSQL.
// Targets: one hub on PostgreSQL >= 50 % of one hub on SQLite; readings per hub CPU-second not falling as
// hubs are added.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Value } from '../protocol/types.js';
import { HubStore } from '../hub/storage/hub-store.js';
import { PgStore } from '../hub/storage/pg/pg-store.js';
import { PgCluster } from '../hub/storage/pg/throwaway-cluster.js';
import type { HubStoreContract } from '../hub/storage/store-contract.js';
import type { CommitBatch, ReadingRow } from '../hub/storage/types.js';
import { treeCpuSecondsOf } from './proc.js';
import { formatHubScale, runHubScale, type HubScaleOptions, type HubScaleResult } from './scale-hubs.js';

export interface ScaleBenchOptions {
  /** Hub-level scenarios (section 1); default HUB_DEFAULTS. */
  hub?: Partial<HubScaleOptions>;
  /** Which sections run; default both. */
  only?: 'hubs' | 'store';
  readings?: number;
  devices?: number;
  /** Readings per commit: the hub's ingest.commitMaxReadings default. */
  batch?: number;
}

export interface ScaleRow {
  store: string;
  readingsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU seconds of this process during the commits. */
  benchCpuSec: number;
  /** CPU seconds of the PostgreSQL server (postmaster and its children), 0 for SQLite. */
  serverCpuSec: number;
  seconds: number;
  note: string;
}

export interface StoreScaleResult {
  options: { readings: number; devices: number; batch: number };
  rows: ScaleRow[];
  pgBytesPerReading: number;
}

export interface ScaleBenchResult {
  hubs: HubScaleResult | undefined;
  store: StoreScaleResult | undefined;
}

export const HUB_DEFAULTS: HubScaleOptions = { devices: 1000, seconds: 10, warmup: 4, rate: 2000, latencySeconds: 10, equalRate: 60_000, pgHubs: [1, 2, 3], rounds: 3 };

/** The options from `npm run bench -- scale ...` flags (see the header). */
export function scaleArgs(argv: string[]): ScaleBenchOptions {
  const num = (flag: string): number | undefined => {
    const i = argv.indexOf(flag);
    return i > 0 ? Number(argv[i + 1]) : undefined;
  };
  const i = argv.indexOf('--hubs');
  const only = argv.indexOf('--only');
  const hub: Partial<HubScaleOptions> = { devices: num('--devices'), seconds: num('--seconds'), warmup: num('--warmup'), rate: num('--rate'), latencySeconds: num('--latency-seconds'), equalRate: num('--equal-rate'), rounds: num('--rounds') };
  if (i > 0) hub.pgHubs = argv[i + 1]!.split(',').map(Number);
  const opts: ScaleBenchOptions = { hub: Object.fromEntries(Object.entries(hub).filter(([, v]) => v !== undefined)), readings: num('--readings') };
  if (only > 0) opts.only = argv[only + 1] === 'store' ? 'store' : 'hubs';
  return opts;
}

const METRICS: Array<[string, 'float' | 'int' | 'bool']> = [
  ['temperature', 'float'], ['humidity', 'float'], ['power', 'float'], ['voltage', 'float'],
  ['current', 'float'], ['pressure', 'float'], ['energy', 'int'], ['on', 'bool'],
];

function valueOf(type: 'float' | 'int' | 'bool', i: number, d: number): Value {
  if (type === 'bool') return { type, value: (i + d) % 7 === 0 };
  if (type === 'int') return { type, value: i * 10 + d };
  return { type, value: Math.round((20 + Math.sin(i / 50 + d) * 5) * 100) / 100 };
}

/** The batches, as the hub's ingest makes them: every device reports all metrics each second, seqs and lastSeen per device. */
async function makeBatches(store: HubStoreContract, o: StoreScaleResult['options'], t0: number): Promise<CommitBatch[]> {
  const series: number[][] = [];
  for (let d = 0; d < o.devices; d++) {
    const id = `dev-${String(d).padStart(5, '0')}`;
    await store.addDevice({ id, name: id, type: 'sensor', tokenSalt: 's', tokenHash: 'h', createdAt: t0 });
    const ids: number[] = [];
    for (const [m, t] of METRICS) ids.push(await store.seriesId(id, m, t));
    series.push(ids);
  }
  const batches: CommitBatch[] = [];
  let cur: CommitBatch = { readings: [], events: [], seqs: new Map(), lastSeen: new Map() };
  const frames = Math.ceil(o.readings / METRICS.length);
  for (let f = 0; f < frames; f++) {
    const d = f % o.devices;
    const i = Math.floor(f / o.devices);
    const ts = t0 + i * 1000 + d;
    const id = `dev-${String(d).padStart(5, '0')}`;
    METRICS.forEach(([, t], k) => cur.readings.push({ series: series[d]![k]!, ts, value: valueOf(t, i, d) } satisfies ReadingRow));
    cur.seqs.set(id, i + 1);
    cur.lastSeen.set(id, ts);
    if (cur.readings.length >= o.batch) batches.push(cur), (cur = { readings: [], events: [], seqs: new Map(), lastSeen: new Map() });
  }
  if (cur.readings.length > 0) batches.push(cur);
  return batches;
}

const cpuSec = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}

async function run(store: string, batches: CommitBatch[], commit: (b: CommitBatch) => unknown, serverCpu: () => number, note: string): Promise<ScaleRow> {
  const lat: number[] = [];
  const [cpu0, srv0, t0] = [cpuSec(), serverCpu(), performance.now()];
  for (const b of batches) {
    const s = performance.now();
    await commit(b);
    lat.push(performance.now() - s);
  }
  const seconds = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const readings = batches.reduce((n, b) => n + b.readings.length, 0);
  return {
    store, readingsPerSec: readings / seconds, p50Ms: percentile(lat, 0.5), p99Ms: percentile(lat, 0.99),
    benchCpuSec: cpuSec() - cpu0, serverCpuSec: serverCpu() - srv0, seconds, note,
  };
}

/** Both sections on one throwaway PostgreSQL cluster, hub level first. */
export async function runScaleBench(opts: ScaleBenchOptions = {}): Promise<ScaleBenchResult> {
  const cluster = await PgCluster.start();
  const dirs: string[] = [];
  const fresh = (): string => {
    dirs.push(mkdtempSync(join(tmpdir(), 'hearth-bench-scale-')));
    return dirs[dirs.length - 1]!;
  };
  try {
    const hubs = opts.only === 'store' ? undefined : await runHubScale({ ...HUB_DEFAULTS, ...opts.hub }, cluster, fresh);
    const store = opts.only === 'hubs' ? undefined : await runStoreScale(opts, cluster, fresh());
    return { hubs, store };
  } finally {
    cluster.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

async function runStoreScale(opts: ScaleBenchOptions, cluster: PgCluster, dir: string): Promise<StoreScaleResult> {
  const o = { readings: opts.readings ?? 800_000, devices: opts.devices ?? 1000, batch: opts.batch ?? 4000 };
  const t0 = Date.now() - 3600_000;
  const rows: ScaleRow[] = [];
  // SQLite, as the hub opens it (WAL, synchronous NORMAL); compaction, which the hub runs off its main
  // thread, is measured in the second row (the same work PostgreSQL does inside its commits: rollups, index).
  const lite = new HubStore({ path: join(dir, 'hub.db') });
  lite.open();
  const liteBatches = await makeBatches(lite, o, t0);
  const c = await run('SQLite HubStore.commit()', liteBatches, (b) => lite.commit(b), () => 0, 'append to the log only');
  const [cpu0, t1] = [cpuSec(), performance.now()];
  while (lite.compactStep() > 0);
  const compactSec = (performance.now() - t1) / 1000;
  rows.push(c, {
    ...c, store: 'SQLite commit() + full compaction', readingsPerSec: o.readings / (c.seconds + compactSec), seconds: c.seconds + compactSec,
    benchCpuSec: c.benchCpuSec + cpuSec() - cpu0, note: `then chunks, rollups, latest: ${compactSec.toFixed(1)} s more on this thread`,
  });
  lite.close();

  const pid = cluster.postmasterPid();
  const pgRun = async (label: string, note: string, variant?: string) => {
    const pgs = new PgStore({ url: await cluster.createDatabase('scale'), poolSize: 2 });
    await pgs.open();
    if (variant) await pgs.pool.query(variant);
    const pgBatches = await makeBatches(pgs, o, t0);
    let n = 0;
    // rollupStep() every 10 commits (about 5 s of this fleet's readings) up to the batches' own clock, so
    // minutes close as they would live and each is aggregated once; inside the timing: it is the
    // PostgreSQL store's share of what compaction does for SQLite.
    const commit = async (b: CommitBatch) => {
      await pgs.commit(b);
      if (++n % 10 === 0) await pgs.rollupStep(b.readings[b.readings.length - 1]!.ts);
    };
    rows.push(await run(label, pgBatches, commit, () => treeCpuSecondsOf(pid), note));
    const size = await pgs.readingsSize();
    await pgs.close();
    return size;
  };
  const size = await pgRun('PostgreSQL PgStore.commit() + rollupStep()', 'unnest() inserts, (series, ts) btree + BRIN(ts), day partitions; rollupStep every 10 commits');
  // The index choice, measured: without the btree, history of one series scans a day's BRIN ranges.
  const brinOnly = await pgRun('  the same, BRIN(ts) only', 'variant: no (series, ts) btree (history would scan)', 'DROP INDEX readings_series_ts');
  rows[rows.length - 1]!.note += `; ${(brinOnly.bytes / brinOnly.readings).toFixed(1)} bytes per reading`;
  return { options: o, rows, pgBytesPerReading: size.bytes / size.readings };
}

/** Both sections as markdown. */
export function formatScaleBench(r: ScaleBenchResult): string {
  const parts: string[] = [];
  if (r.hubs) parts.push(`### Hub level: hub processes and their loaders\n\n${formatHubScale(r.hubs)}`);
  if (r.store) parts.push(`### Store level: HubStore.commit() and PgStore.commit() in this process\n\n${formatStoreScale(r.store)}`);
  return parts.join('\n\n');
}

function formatStoreScale(r: StoreScaleResult): string {
  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  const base = r.rows[0]!.readingsPerSec;
  const lines = r.rows.map((x) => {
    const cpu = x.benchCpuSec + x.serverCpuSec;
    return `| ${x.store} | ${n(x.readingsPerSec)} | ${((100 * x.readingsPerSec) / base).toFixed(0)} % | ${x.p50Ms.toFixed(1)} / ${x.p99Ms.toFixed(1)} ms | ${x.benchCpuSec.toFixed(1)} s + ${x.serverCpuSec.toFixed(1)} s | ${n(r.options.readings / cpu)} | ${x.note} |`;
  });
  return [
    `${n(r.options.readings)} readings, ${n(r.options.devices)} devices x ${METRICS.length} metrics, ${n(r.options.batch)} readings per commit, one commit at a time. PostgreSQL: ${r.pgBytesPerReading.toFixed(1)} bytes per reading (readings partitions with their indexes).`,
    '',
    '| store | readings/s | of SQLite commit | commit p50 / p99 | CPU: bench + server | readings per CPU-second | note |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...lines,
  ].join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runScaleBench(scaleArgs(process.argv)).then(
    (r) => console.log(formatScaleBench(r)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
