// Storage benchmark: HubStore.commit() against a bare insert (the ceiling), compaction, bytes on disk per
// reading, and history query latency. Run alone: `npx tsc -p tsconfig.build.json && node dist/bench/storage.js
// [--readings N]`, or through `npm run bench -- storage`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Value } from '../protocol/types.js';
import { HubStore } from '../hub/storage/hub-store.js';
import type { CommitBatch, ReadingRow } from '../hub/storage/types.js';
import { BareLog } from './bare-log.js';

export interface StorageBenchOptions {
  /** Readings committed in the main run (default 2,000,000). */
  readings?: number;
  devices?: number;
  /** Readings per commit (default 2,000). */
  batch?: number;
  /** Each device reports its 4 metrics this often (default 1,000 ms). */
  intervalMs?: number;
  /** compactStep() runs after this many committed readings, as the hub's 2 s timer would (default 8,000). */
  compactEvery?: number;
}

export interface StorageBenchResult {
  options: Required<StorageBenchOptions>;
  commitPerSec: number;
  baselinePerSec: number;
  compactSteadyPerSec: number;
  compactCatchUpPerSec: number;
  bytesPerReading: number;
  spaceByTable: Array<{ name: string; bytesPerReading: number }>;
  chunks: number;
  historyRaw1h: Latency;
  historyHour30d: Latency;
}

export interface Latency {
  points: number;
  p50Ms: number;
  p95Ms: number;
}

const METRICS = [
  ['temperature', 'float'], // 2 decimals, slowly varying
  ['humidity', 'float'], // 1 decimal
  ['power', 'float'], // float32 from the wire
  ['energy', 'int'], // a counter
] as const;
const T0 = Date.UTC(2025, 0, 1);

/** Telemetry of `devices` devices x 4 metrics, batch by batch; each device sends one frame per interval. */
class Workload {
  readonly #o: Required<StorageBenchOptions>;
  readonly #series: number[][];
  readonly #state: Float64Array;
  readonly #seq: Uint32Array;
  #next = 0;
  #rand = 1;

  constructor(o: Required<StorageBenchOptions>, series: number[][]) {
    this.#o = o;
    this.#series = series;
    this.#state = new Float64Array(o.devices * METRICS.length).map((_, i) => [21, 45, 120, 1000][i % 4]!);
    this.#seq = new Uint32Array(o.devices);
  }

  batch(): CommitBatch {
    const { devices, batch, intervalMs } = this.#o;
    const readings: ReadingRow[] = [];
    const seqs = new Map<string, number>();
    const lastSeen = new Map<string, number>();
    while (readings.length < batch) {
      const frame = this.#next++;
      const d = frame % devices;
      const ts = T0 + Math.floor(frame / devices) * intervalMs + (d % intervalMs);
      for (let m = 0; m < METRICS.length; m++) readings.push({ series: this.#series[d]![m]!, ts, value: this.#value(d * METRICS.length + m, m) });
      const id = deviceId(d);
      seqs.set(id, ++this.#seq[d]!);
      lastSeen.set(id, ts);
    }
    return { readings, events: [], seqs, lastSeen };
  }

  #value(i: number, metric: number): Value {
    const s = this.#state;
    const step = this.#random() - 0.5;
    switch (metric) {
      case 0:
        return { type: 'float', value: (s[i] = Math.round((s[i]! + step * 0.05) * 100) / 100) };
      case 1:
        return { type: 'float', value: (s[i] = Math.round((s[i]! + step * 0.2) * 10) / 10) };
      case 2:
        return { type: 'float', value: (s[i] = Math.fround(Math.max(0, s[i]! + step * 4))) };
      default:
        return { type: 'int', value: (s[i] = s[i]! + Math.floor(this.#random() * 3)) };
    }
  }

  /** xorshift: cheap and deterministic, so runs compare. */
  #random(): number {
    let x = this.#rand;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#rand = x >>> 0;
    return this.#rand / 4294967296;
  }
}

function deviceId(d: number): string {
  return `dev-${String(d).padStart(4, '0')}`;
}

function provision(store: HubStore, devices: number): number[][] {
  const series: number[][] = [];
  for (let d = 0; d < devices; d++) {
    const id = deviceId(d);
    store.addDevice({ id, name: id, type: 'sensor', tokenSalt: 's', tokenHash: 'h', createdAt: T0 });
    series.push(METRICS.map(([metric, type]) => store.seriesId(id, metric, type)));
  }
  return series;
}

function timed(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

function latency(samples: number[], points: number): Latency {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { points, p50Ms: at(0.5), p95Ms: at(0.95) };
}

/** Runs every measurement in a temp directory (deleted after) and returns the numbers. */
export async function runStorageBench(opts: StorageBenchOptions = {}): Promise<StorageBenchResult> {
  const o: Required<StorageBenchOptions> = {
    readings: 2_000_000, devices: 1000, batch: 2000, intervalMs: 1000, compactEvery: 8000, ...opts,
  };
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-storage-'));
  try {
    // 1. commit() and the bare baseline, batch by batch in turn so both see the same machine load;
    //    compaction interleaved as the hub runs it, timed apart.
    const store = new HubStore({ path: join(dir, 'hub.db') });
    const bare = new BareLog(join(dir, 'bare.db'));
    store.open();
    bare.open();
    const work = new Workload(o, provision(store, o.devices));
    let commitMs = 0;
    let bareMs = 0;
    let compactMs = 0;
    let compacted = 0;
    let sinceCompact = 0;
    for (let done = 0; done < o.readings; ) {
      const batch = work.batch();
      commitMs += timed(() => store.commit(batch));
      bareMs += timed(() => bare.insert(batch.readings));
      done += batch.readings.length;
      sinceCompact += batch.readings.length;
      if (sinceCompact >= o.compactEvery) {
        sinceCompact = 0;
        compactMs += timed(() => {
          for (let n = store.compactStep(); n > 0; n = store.compactStep()) compacted += n;
        });
      }
      if (done % 200_000 < o.batch) await new Promise<void>((r) => setImmediate(r));
    }
    compactMs += timed(() => {
      for (let n = store.compactStep(); n > 0; n = store.compactStep()) compacted += n;
    });
    bare.close();
    store.checkpoint();
    const stats = store.stats();
    const spaceByTable = store.spaceUsage().map(({ name, bytes }) => ({ name, bytesPerReading: bytes / o.readings }));
    store.close();

    // 2. Catch-up compaction: a backlog of 200,000 readings moved in 50,000-row steps.
    const backlog = new HubStore({ path: join(dir, 'backlog.db') });
    backlog.open();
    const backlogWork = new Workload(o, provision(backlog, o.devices));
    const backlogReadings = Math.min(200_000, o.readings);
    for (let done = 0; done < backlogReadings; done += o.batch) backlog.commit(backlogWork.batch());
    let catchUp = 0;
    const catchUpMs = timed(() => {
      for (let n = backlog.compactStep(50_000); n > 0; n = backlog.compactStep(50_000)) catchUp += n;
    });
    backlog.close();

    // 3. History of one series holding 30 days, a reading every 10 s, compacted as the hub would.
    const hist = new HubStore({ path: join(dir, 'history.db') });
    hist.open();
    hist.addDevice({ id: 'h', name: 'h', type: 'sensor', tokenSalt: 's', tokenHash: 'h', createdAt: T0 });
    const s = hist.seriesId('h', 'temperature', 'float');
    const days = 30;
    const every = 10_000;
    const total = (days * 86_400_000) / every;
    let temp = 21;
    for (let i = 0; i < total; i += 2000) {
      const readings: ReadingRow[] = [];
      for (let j = i; j < Math.min(total, i + 2000); j++) {
        temp = Math.round((temp + Math.sin(j / 500) * 0.02) * 100) / 100;
        readings.push({ series: s, ts: T0 + j * every, value: { type: 'float', value: temp } });
      }
      hist.commit({ readings, events: [], seqs: new Map([['h', i + 1]]), lastSeen: new Map() });
      hist.compactStep();
    }
    const end = T0 + days * 86_400_000;
    const raw: number[] = [];
    let rawPoints = 0;
    for (let i = 0; i < 200; i++) {
      const from = T0 + Math.floor((i / 200) * (days - 1) * 86_400_000);
      raw.push(timed(() => (rawPoints = hist.history({ deviceId: 'h', metric: 'temperature', from, to: from + 3_600_000, step: 'raw', limit: 10_000 }).length)));
    }
    const hours: number[] = [];
    let hourPoints = 0;
    for (let i = 0; i < 50; i++) {
      hours.push(timed(() => (hourPoints = hist.history({ deviceId: 'h', metric: 'temperature', from: T0, to: end, step: 'hour', limit: 10_000 }).length)));
    }
    hist.close();

    return {
      options: o,
      commitPerSec: o.readings / (commitMs / 1000),
      baselinePerSec: o.readings / (bareMs / 1000),
      compactSteadyPerSec: compacted / (compactMs / 1000),
      compactCatchUpPerSec: catchUp / (catchUpMs / 1000),
      bytesPerReading: stats.bytes / o.readings,
      spaceByTable,
      chunks: stats.chunks,
      historyRaw1h: latency(raw, rawPoints),
      historyHour30d: latency(hours, hourPoints),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The result as a markdown table. */
export function formatStorageBench(r: StorageBenchResult): string {
  const o = r.options;
  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  const rows: Array<[string, string, string]> = [
    [`commit(), ${n(o.batch)}-reading batches`, `${n(r.commitPerSec)} readings/s`, `${n(o.devices)} devices x 4 metrics, ${n(o.readings)} readings`],
    ['baseline: bare insert, same pragmas', `${n(r.baselinePerSec)} readings/s`, `commit() reaches ${((100 * r.commitPerSec) / r.baselinePerSec).toFixed(0)} % of it`],
    [`compactStep(), every ${n(o.compactEvery)} readings`, `${n(r.compactSteadyPerSec)} rows/s`, 'steady state, as the hub runs it'],
    ['compactStep(50,000), backlog of 200,000', `${n(r.compactCatchUpPerSec)} rows/s`, 'catch-up'],
    ['bytes on disk per reading', r.bytesPerReading.toFixed(2), `stats().bytes / ${n(o.readings)}, compacted, WAL checkpointed; ${n(r.chunks)} chunks`],
    ...r.spaceByTable
      .filter((t) => t.bytesPerReading >= 0.01)
      .map((t): [string, string, string] => [`  of which ${t.name}`, t.bytesPerReading.toFixed(2), '']),
    ['history raw, 1 h of one series', `p50 ${r.historyRaw1h.p50Ms.toFixed(2)} ms, p95 ${r.historyRaw1h.p95Ms.toFixed(2)} ms`, `${n(r.historyRaw1h.points)} points; 30 days stored, a reading every 10 s`],
    ['history hour rollups, 30 days', `p50 ${r.historyHour30d.p50Ms.toFixed(2)} ms, p95 ${r.historyHour30d.p95Ms.toFixed(2)} ms`, `${n(r.historyHour30d.points)} buckets`],
  ];
  return ['| measure | result | note |', '| --- | --- | --- |', ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

function argValue(name: string): number | undefined {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : undefined;
  return v !== undefined && Number.isFinite(v) && v > 0 ? v : undefined;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const readings = argValue('--readings');
  runStorageBench(readings ? { readings } : {}).then(
    (r) => console.log(formatStorageBench(r)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
