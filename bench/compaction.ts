// Compaction benchmark: what compaction costs the hub's main thread. A store is fed 100,000 readings/s over
// 8,000 series from the main thread in 2,000-reading commits (one every 20 ms, at fixed times), with
// (a) compaction inline on the main thread as the hub ran it before the worker (compactStep(20,000) every
// 250 ms, in turns of at most 40 ms) and (b) the compaction worker (CompactionRunner). Measures commit()
// time, how late each commit finished against its due time (what an ACK waits: the event loop was busy or
// the write lock was held), main-thread event-loop utilisation, and the worker's throughput and write
// transactions. Run alone: `npx tsc -p tsconfig.build.json && node dist/bench/compaction.js [--seconds N]`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Value } from '../protocol/types.js';
import { CompactionRunner } from '../hub/storage/compaction/runner.js';
import type { PassResult } from '../hub/storage/compaction/pass.js';
import { HubStore } from '../hub/storage/hub-store.js';
import type { ReadingRow } from '../hub/storage/types.js';

export interface CompactionBenchOptions {
  /** Measured seconds per mode, after a warm-up (default 20). */
  seconds?: number;
  warmupSeconds?: number;
  series?: number;
  readingsPerSec?: number;
  batch?: number;
}

export interface Dist {
  p50: number;
  p99: number;
  max: number;
}

export interface ModeResult {
  mode: string;
  commits: number;
  commitMs: Dist;
  /** Due time of a commit to its end: the ACK delay compaction adds. */
  lateMs: Dist;
  /** Share of wall time the main thread's event loop was busy. */
  mainElu: number;
  /** Readings compacted per second over the measured window, and the log backlog at its end. */
  compactedPerSec: number;
  backlogAtEnd: number;
  /** Worker only: write transactions per pass, and the longest write transaction of each pass. */
  passes?: number;
  transactions?: number;
  writeTxMs?: Dist;
  readPhaseMs?: Dist;
}

export interface CompactionBenchResult {
  options: Required<CompactionBenchOptions>;
  modes: ModeResult[];
}

const T0 = Date.UTC(2025, 0, 1);

function dist(samples: number[]): Dist {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99), max: s[s.length - 1] ?? 0 };
}

/** One store, fed at a fixed rate while `mode` compacts; returns the measurements. */
async function runMode(mode: 'inline (before)' | 'worker', o: Required<CompactionBenchOptions>): Promise<ModeResult> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-compaction-'));
  const path = join(dir, 'hub.db');
  const store = new HubStore({ path });
  store.open();
  const series: Array<{ id: number; float: boolean }> = [];
  const metricsPerDevice = 8;
  for (let d = 0; d < o.series / metricsPerDevice; d++) {
    const id = `dev-${d}`;
    store.addDevice({ id, name: id, type: 'sensor', tokenSalt: 's', tokenHash: 'h', createdAt: T0 });
    for (let m = 0; m < metricsPerDevice; m++) series.push({ id: store.seriesId(id, `m${m}`, m % 4 === 3 ? 'int' : 'float'), float: m % 4 !== 3 });
  }
  const state = new Float64Array(series.length).fill(20);
  let next = 0;
  let rand = 1;
  const random = (): number => {
    rand ^= rand << 13;
    rand ^= rand >>> 17;
    rand ^= rand << 5;
    return (rand >>> 0) / 4294967296;
  };
  const msPerRound = (series.length / o.readingsPerSec) * 1000;
  const batch = (): ReadingRow[] => {
    const out: ReadingRow[] = [];
    for (let i = 0; i < o.batch; i++) {
      const k = next % series.length;
      const s = series[k]!;
      const ts = T0 + Math.floor((Math.floor(next / series.length) * msPerRound)) + (k % 50);
      const v: Value = s.float
        ? { type: 'float', value: (state[k] = Math.round((state[k]! + random() - 0.5) * 10) / 10) }
        : { type: 'int', value: (state[k] = state[k]! + Math.floor(random() * 3)) };
      out.push({ series: s.id, ts, value: v });
      next++;
    }
    return out;
  };

  // (a) as the hub did before the worker: compactStep(20,000) every 250 ms, turns of <= 40 ms.
  let inlineTimer: NodeJS.Timeout | undefined;
  let runner: CompactionRunner | undefined;
  const passes: PassResult[] = [];
  if (mode === 'worker') {
    runner = new CompactionRunner({ path, mode: 'worker' });
    runner.on('pass', (r) => passes.push(r));
    await runner.start();
    store.attachCompaction(runner.gate);
  } else {
    inlineTimer = setInterval(() => {
      const started = performance.now();
      while (performance.now() - started < 40) if (store.compactStep(20_000) < 20_000) break;
    }, 250);
  }

  const interval = (o.batch / o.readingsPerSec) * 1000;
  const total = Math.round(((o.seconds + o.warmupSeconds) * 1000) / interval);
  const warmup = Math.round((o.warmupSeconds * 1000) / interval);
  const commitMs: number[] = [];
  const lateMs: number[] = [];
  let movedAtStart = 0;
  let eluStart = performance.eventLoopUtilization();
  let measureStart = 0;
  const start = performance.now();
  for (let k = 0; k < total; k++) {
    const due = start + k * interval;
    const wait = due - performance.now();
    await new Promise((r) => (wait > 0 ? setTimeout(r, wait) : setImmediate(r)));
    if (k === warmup) {
      movedAtStart = store.stats().storedReadings - store.stats().pendingLogRows;
      eluStart = performance.eventLoopUtilization();
      measureStart = performance.now();
      passes.length = 0;
    }
    const readings = batch();
    const t = performance.now();
    store.commit({ readings, events: [], seqs: new Map(), lastSeen: new Map() });
    const end = performance.now();
    if (k >= warmup) {
      commitMs.push(end - t);
      lateMs.push(end - due);
    }
  }
  const elapsed = (performance.now() - measureStart) / 1000;
  const elu = performance.eventLoopUtilization(eluStart);
  const stats = store.stats();
  const moved = stats.storedReadings - stats.pendingLogRows - movedAtStart;
  if (inlineTimer) clearInterval(inlineTimer);
  await runner?.stop();
  store.close();
  rmSync(dir, { recursive: true, force: true });
  const result: ModeResult = {
    mode,
    commits: commitMs.length,
    commitMs: dist(commitMs),
    lateMs: dist(lateMs),
    mainElu: elu.utilization,
    compactedPerSec: moved / elapsed,
    backlogAtEnd: stats.pendingLogRows,
  };
  if (runner) {
    result.passes = passes.length;
    result.transactions = passes.reduce((n, p) => n + p.transactions, 0);
    result.writeTxMs = dist(passes.filter((p) => p.transactions > 0).map((p) => p.maxTxMs));
    result.readPhaseMs = dist(passes.filter((p) => p.rows > 0).map((p) => p.readMs));
  }
  return result;
}

/** Runs both modes, one after the other, each on a fresh store in a temp directory (deleted after). */
export async function runCompactionBench(opts: CompactionBenchOptions = {}): Promise<CompactionBenchResult> {
  const o: Required<CompactionBenchOptions> = { seconds: 20, warmupSeconds: 5, series: 8000, readingsPerSec: 100_000, batch: 2000, ...opts };
  const modes: ModeResult[] = [];
  for (const mode of ['inline (before)', 'worker'] as const) modes.push(await runMode(mode, o));
  return { options: o, modes };
}

/** The result as a markdown table. */
export function formatCompactionBench(r: CompactionBenchResult): string {
  const o = r.options;
  const ms = (d: Dist): string => `${d.p50.toFixed(1)} / ${d.p99.toFixed(1)} / ${d.max.toFixed(1)}`;
  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  const head = `${n(o.readingsPerSec)} readings/s over ${n(o.series)} series in ${n(o.batch)}-reading commits, ${o.seconds} s measured after ${o.warmupSeconds} s warm-up. Times in ms as p50 / p99 / max.`;
  const rows = r.modes.map((m) =>
    [
      m.mode,
      ms(m.commitMs),
      ms(m.lateMs),
      `${(m.mainElu * 100).toFixed(0)} %`,
      n(m.compactedPerSec),
      n(m.backlogAtEnd),
      m.writeTxMs ? ms(m.writeTxMs) : '-',
      m.readPhaseMs ? ms(m.readPhaseMs) : '-',
      m.passes !== undefined ? `${n(m.passes)} / ${n(m.transactions ?? 0)}` : '-',
    ].join(' | '),
  );
  return [
    head,
    '',
    '| compaction | commit() | commit done vs due (ACK delay) | main loop busy | compacted rows/s | backlog at end | longest write tx per pass | read phase per pass | passes / write txs |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((row) => `| ${row} |`),
  ].join('\n');
}

function argValue(name: string): number | undefined {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : undefined;
  return v !== undefined && Number.isFinite(v) && v > 0 ? v : undefined;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const seconds = argValue('--seconds');
  runCompactionBench(seconds ? { seconds } : {}).then(
    (r) => console.log(formatCompactionBench(r)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
