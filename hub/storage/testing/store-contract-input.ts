// The contract suite's data (test support): a deterministic mix of every value type across hours, written in
// several batches (some out of order), and its expected history computed directly from the input.
import type { Value, ValueType } from '../../../protocol/types.js';
import type { HistoryPoint, HistoryStep } from '../types.js';
import { prng } from './store-fixture.js';

export interface InputReading {
  deviceId: string;
  metric: string;
  ts: number;
  value: Value;
}

export interface InputSeries {
  deviceId: string;
  metric: string;
  type: ValueType;
}

export interface ContractInput {
  devices: string[];
  series: InputSeries[];
  /** One commit each. */
  batches: InputReading[][];
}

const SERIES: InputSeries[] = [
  { deviceId: 'd1', metric: 'temperature', type: 'float' },
  { deviceId: 'd1', metric: 'power', type: 'int' },
  { deviceId: 'd1', metric: 'on', type: 'bool' },
  { deviceId: 'd2', metric: 'label', type: 'string' },
  { deviceId: 'd2', metric: 'mode', type: 'enum' },
];

function valueOf(type: ValueType, rnd: () => number): Value {
  switch (type) {
    case 'float':
      return { type, value: Math.round((rnd() * 80 - 20) * 4) / 4 || 0 }; // no -0; quarters: sums stay exact in any order
    case 'int':
      return { type, value: Math.floor(rnd() * 2000) - 1000 };
    case 'bool':
      return { type, value: rnd() < 0.5 };
    case 'string':
      return { type, value: `s${Math.floor(rnd() * 50)}` };
    case 'enum':
      return { type, value: Math.floor(rnd() * 4) };
  }
}

/** About 600 readings per series over five hours from t0, no two of a series at the same ts. */
export function contractInput(t0: number): ContractInput {
  const rnd = prng(16);
  const all: InputReading[] = [];
  for (const s of SERIES) {
    let ts = t0;
    for (let i = 0; i < 600; i++) {
      ts += 1 + Math.floor(rnd() * 60_000);
      all.push({ deviceId: s.deviceId, metric: s.metric, ts, value: valueOf(s.type, rnd) });
    }
  }
  // Batches of 250 in a shuffled order: commits need not arrive in time order.
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  const batches: InputReading[][] = [];
  for (let i = 0; i < all.length; i += 250) batches.push(all.slice(i, i + 250));
  return { devices: ['d1', 'd2'], series: SERIES, batches };
}

const native = (v: Value): number | string => (v.type === 'bool' ? (v.value ? 1 : 0) : v.value);
const BUCKET: Record<'minute' | 'hour', number> = { minute: 60_000, hour: 3_600_000 };

/** What history() must answer for `s`, computed from the input alone (see HubStore.history's contract). */
export function expectedHistory(input: ContractInput, s: InputSeries, step: HistoryStep, from: number, to: number, limit: number): HistoryPoint[] {
  const rows = input.batches.flat().filter((r) => r.deviceId === s.deviceId && r.metric === s.metric);
  if (step === 'raw') {
    return rows
      .filter((r) => r.ts >= from && r.ts <= to)
      .sort((a, b) => a.ts - b.ts)
      .slice(0, limit)
      .map((r) => ({ ts: r.ts, value: native(r.value) }));
  }
  if (s.type === 'string' || s.type === 'enum') return [];
  const size = BUCKET[step];
  const first = Math.max(0, from) - (Math.max(0, from) % size);
  const last = to - (to % size);
  const buckets = new Map<number, number[]>();
  for (const r of rows) {
    const b = r.ts - (r.ts % size);
    if (b < first || b > last) continue;
    if (!buckets.has(b)) buckets.set(b, []);
    buckets.get(b)!.push(native(r.value) as number);
  }
  return [...buckets.entries()]
    .sort((a, b) => a[0] - b[0])
    .slice(0, limit)
    .map(([ts, xs]) => ({ ts, min: Math.min(...xs), max: Math.max(...xs), mean: xs.reduce((a, b) => a + b, 0) / xs.length, count: xs.length }));
}
