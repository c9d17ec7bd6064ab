// Chart data for the device view: which history to ask for per range, the API answer as uPlot's column arrays,
// and live points folded in as they arrive (appended raw, or merged into the current rollup bucket).
import type { ApiHistoryStep, HistoryResponse } from '../../hub/http/api-types.js';
import { chartNumber } from '../../protocol/value-form.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export type RangeKey = '1h' | '24h' | '7d' | '30d';

export interface RangeSpec {
  label: string;
  ms: number;
  /** What to ask the API for; raw for the last hour, rolled-up mean with min/max beyond. */
  step: ApiHistoryStep;
}

export const RANGES: Readonly<Record<RangeKey, RangeSpec>> = {
  '1h': { label: '1 h', ms: HOUR, step: 'raw' },
  '24h': { label: '24 h', ms: DAY, step: 'minute' },
  '7d': { label: '7 d', ms: 7 * DAY, step: 'hour' },
  '30d': { label: '30 d', ms: 30 * DAY, step: 'hour' },
};
export const RANGE_KEYS = Object.keys(RANGES) as RangeKey[];

/** Points asked for at most; a raw hour denser than this is asked again per minute. */
export const HISTORY_LIMIT = 10_000;

const STEP_MS: Record<ApiHistoryStep, number> = { raw: 0, minute: MINUTE, hour: HOUR };

/** The history API path for one metric over `range` ending at `now`, at `step` (default: the range's). */
export function historyPath(deviceId: string, metric: string, range: RangeKey, now: number, step: ApiHistoryStep = RANGES[range].step): string {
  const q = new URLSearchParams({ metric, from: String(now - RANGES[range].ms), to: String(now), step, limit: String(HISTORY_LIMIT) });
  return `/api/devices/${encodeURIComponent(deviceId)}/history?${q}`;
}

/**
 * One metric's chart data in uPlot's layout: x in seconds; `values` the raw value or the bucket mean; for
 * rollups `mins`/`maxs` bound the band and `counts` lets live points update the mean.
 */
export interface SeriesData {
  step: ApiHistoryStep;
  /** Window length, so live appends can drop what slid out of view. */
  windowMs: number;
  /** End of the window (the query's `to`, moved on by live points); the chart shows [toMs - windowMs, toMs]. */
  toMs: number;
  xs: number[];
  values: (number | null)[];
  mins: (number | null)[];
  maxs: (number | null)[];
  counts: number[];
}

/** The API answer as chart columns (chartNumber's y); text points (never expected for numeric metrics) are skipped. */
export function toSeries(answer: Pick<HistoryResponse, 'step' | 'points' | 'from' | 'to'>): SeriesData {
  const s: SeriesData = { step: answer.step, windowMs: answer.to - answer.from, toMs: answer.to, xs: [], values: [], mins: [], maxs: [], counts: [] };
  for (const p of answer.points) {
    if (answer.step === 'raw') {
      const v = chartNumber(p.value);
      if (v === null) continue;
      push(s, p.ts, v, v, v, 1);
    } else {
      if (typeof p.mean !== 'number') continue;
      push(s, p.ts, p.mean, chartNumber(p.min) ?? p.mean, chartNumber(p.max) ?? p.mean, p.count ?? 1);
    }
  }
  return s;
}

/**
 * Folds a live value into the series: appended when raw, merged into its minute/hour bucket for rollups.
 * Older points than the last are ignored; points that slid out of the window are dropped. Returns whether
 * anything changed.
 */
export function appendPoint(s: SeriesData, ts: number, value: number): boolean {
  if (!Number.isFinite(value)) return false;
  const lastX = s.xs.length > 0 ? s.xs[s.xs.length - 1]! * 1000 : -Infinity;
  if (s.step === 'raw') {
    if (ts <= lastX) return false;
    push(s, ts, value, value, value, 1);
  } else {
    const bucket = Math.floor(ts / STEP_MS[s.step]) * STEP_MS[s.step];
    if (bucket < lastX) return false;
    if (bucket === lastX) {
      const i = s.xs.length - 1;
      const n = s.counts[i]!;
      s.values[i] = ((s.values[i] ?? value) * n + value) / (n + 1);
      s.mins[i] = Math.min(s.mins[i] ?? value, value);
      s.maxs[i] = Math.max(s.maxs[i] ?? value, value);
      s.counts[i] = n + 1;
    } else {
      push(s, bucket, value, value, value, 1);
    }
  }
  s.toMs = Math.max(s.toMs, ts);
  trim(s, s.toMs - s.windowMs);
  return true;
}

function push(s: SeriesData, ts: number, value: number, min: number, max: number, count: number): void {
  s.xs.push(ts / 1000);
  s.values.push(value);
  s.mins.push(min);
  s.maxs.push(max);
  s.counts.push(count);
}

function trim(s: SeriesData, fromMs: number): void {
  let drop = 0;
  while (drop < s.xs.length && s.xs[drop]! * 1000 < fromMs) drop++;
  if (drop === 0) return;
  for (const column of [s.xs, s.values, s.mins, s.maxs, s.counts]) column.splice(0, drop);
}
