// Codec throughput against JSON on the same content, side by side in one run [FP-9].
// Run alone: `npx tsc -p tsconfig.build.json && node dist/bench/codec.js`.
import { pathToFileURL } from 'node:url';
import { decode, encode, type BatchFrame, type TelemetryFrame } from '../protocol/index.js';

export interface CodecBenchRow {
  case: string;
  /** Binary codec operations per second (median of the rounds). */
  binaryPerSec: number;
  /** JSON.parse / JSON.stringify operations per second on the same content (median). */
  jsonPerSec: number;
  /** binaryPerSec / jsonPerSec. */
  ratio: number;
  binaryBytes: number;
  jsonBytes: number;
}

export interface CodecBenchTarget {
  name: string;
  required: number;
  measured: number;
  met: boolean;
}

export interface CodecBenchResult {
  rows: CodecBenchRow[];
  targets: CodecBenchTarget[];
  /** Every target met. */
  ok: boolean;
}

export interface CodecBenchOptions {
  /** Measured rounds per case and codec; the median counts. Default 7. */
  rounds?: number;
  /** Length of one round. Default 200 ms. */
  roundMs?: number;
  /** Warm-up per case and codec before measuring. Default 300 ms. */
  warmupMs?: number;
}

const METRIC_NAMES = ['temperature', 'humidity'] as const;
const TS = 1_700_000_000_000;

/** The 2-float TELEMETRY of firmware-protocol.md's compactness target, and its JSON form (metric names). */
function telemetryCase(): { frame: TelemetryFrame; json: unknown } {
  const frame: TelemetryFrame = {
    type: 'telemetry',
    seq: 100_000,
    ts: TS,
    readings: [
      { metric: 1, value: { type: 'float', value: 21.5 } },
      { metric: 2, value: { type: 'float', value: 48.25 } },
    ],
  };
  const json = {
    seq: frame.seq,
    ts: frame.ts,
    readings: frame.readings.map((r) => ({ metric: METRIC_NAMES[r.metric - 1], value: r.value.value })),
  };
  return { frame, json };
}

/** 100 samples of two metrics every 30 s, as a device replays them after an outage. */
function batchCase(): { frame: BatchFrame; json: unknown } {
  const samples = Array.from({ length: 100 }, (_, i) => ({
    ts: TS + Math.floor(i / 2) * 30_000,
    metric: (i % 2) + 1,
    value: { type: 'float' as const, value: i % 2 === 0 ? 20 + (i % 16) * 0.25 : 45 + (i % 12) * 0.5 },
  }));
  const frame: BatchFrame = { type: 'batch', seq: 100_001, samples };
  const json = {
    seq: frame.seq,
    samples: samples.map((s) => ({ ts: s.ts, metric: METRIC_NAMES[s.metric - 1], value: s.value.value })),
  };
  return { frame, json };
}

// Every result is stored here, so the optimiser can neither drop the calls nor avoid allocating what
// they return (escape analysis would flatter the binary decoder most). Small, so results die young as
// they do in the hub.
const RING = 64;
const ring: unknown[] = new Array<unknown>(RING).fill(null);

/** Operations per second of `op` over about `ms` milliseconds. */
function measure(op: () => unknown, ms: number): number {
  let ops = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(Math.round(ms * 1e6));
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let k = 0; k < 16; k++) for (let i = 0; i < RING; i++) ring[i] = op();
    ops += 16 * RING;
    elapsed = process.hrtime.bigint() - start;
  }
  return (ops * 1e9) / Number(elapsed);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Alternates rounds of the two codecs so that both see the same machine state; returns the medians. */
function compare(binary: () => unknown, json: () => unknown, opts: Required<CodecBenchOptions>): [number, number] {
  measure(binary, opts.warmupMs);
  measure(json, opts.warmupMs);
  const b: number[] = [];
  const j: number[] = [];
  for (let r = 0; r < opts.rounds; r++) {
    b.push(measure(binary, opts.roundMs));
    j.push(measure(json, opts.roundMs));
  }
  return [median(b), median(j)];
}

/** Measures encode/decode of TELEMETRY (2 floats) and BATCH (100 samples) against JSON; checks the targets. */
export async function runCodecBench(options: CodecBenchOptions = {}): Promise<CodecBenchResult> {
  const opts = { rounds: options.rounds ?? 7, roundMs: options.roundMs ?? 200, warmupMs: options.warmupMs ?? 300 };
  const rows: CodecBenchRow[] = [];
  for (const [label, { frame, json }] of [
    ['TELEMETRY, 2 floats', telemetryCase()],
    ['BATCH, 100 samples', batchCase()],
  ] as const) {
    const bytes = encode(frame);
    const text = JSON.stringify(json);
    const jsonBytes = new TextEncoder().encode(text).length;
    const [decodeBin, decodeJson] = compare(
      () => decode(bytes),
      () => JSON.parse(text),
      opts,
    );
    rows.push({ case: `decode ${label}`, binaryPerSec: decodeBin, jsonPerSec: decodeJson, ratio: decodeBin / decodeJson, binaryBytes: bytes.length, jsonBytes });
    const [encodeBin, encodeJson] = compare(
      () => encode(frame),
      () => JSON.stringify(json),
      opts,
    );
    rows.push({ case: `encode ${label}`, binaryPerSec: encodeBin, jsonPerSec: encodeJson, ratio: encodeBin / encodeJson, binaryBytes: bytes.length, jsonBytes });
    // Let other work (a caller's timers, I/O) run between cases.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const telemetryDecode = rows[0]!;
  const telemetryEncode = rows[1]!;
  const targets: CodecBenchTarget[] = [
    target('TELEMETRY decode vs JSON.parse (x)', 3, telemetryDecode.ratio),
    target('TELEMETRY encode vs JSON.stringify (x)', 3, telemetryEncode.ratio),
    target('TELEMETRY frames decoded per second, one core', 1_000_000, telemetryDecode.binaryPerSec),
  ];
  ring.fill(null);
  return { rows, targets, ok: targets.every((t) => t.met) };
}

function target(name: string, required: number, measured: number): CodecBenchTarget {
  return { name, required, measured, met: measured >= required };
}

function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2);
}

/** The rows and the targets as markdown tables (for the console and BENCHMARKS.md). */
export function formatCodecBench(result: CodecBenchResult): string {
  const lines = [
    `Node ${process.version}; JSON.parse starts from a string (no UTF-8 decoding charged to JSON); medians of alternating rounds.`,
    '',
    '| Case | Binary ops/s | JSON ops/s | Binary / JSON | Binary bytes | JSON bytes |',
    '|---|---:|---:|---:|---:|---:|',
    ...result.rows.map(
      (r) => `| ${r.case} | ${fmt(r.binaryPerSec)} | ${fmt(r.jsonPerSec)} | ${r.ratio.toFixed(2)}x | ${r.binaryBytes} | ${r.jsonBytes} |`,
    ),
    '',
    '| Target | Required | Measured | Met |',
    '|---|---:|---:|:---:|',
    ...result.targets.map((t) => `| ${t.name} | >= ${fmt(t.required)} | ${fmt(t.measured)} | ${t.met ? 'yes' : 'NO'} |`),
  ];
  return lines.join('\n');
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const result = await runCodecBench();
  console.log(formatCodecBench(result));
  if (!result.ok) process.exitCode = 1;
}
