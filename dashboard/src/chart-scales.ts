// Scales shared by every chart: the x range (the chosen window, or "since first reading" when the data is
// shorter), a y range that a flat series still reads well in, and time ticks in the browser's locale.

const DAY_MS = 86_400_000;

/** The shortest span a chart shows: a lone reading sits in the last ten minutes, not in a one-second sliver. */
export const MIN_SPAN_MS = 10 * 60_000;

/**
 * The x range in seconds: the window [to - windowMs, to], or from the first point when data starts later
 * ("since first reading"), but never shorter than MIN_SPAN_MS (or the window, when that is shorter).
 */
export function xRange(firstMs: number | null, toMs: number, windowMs: number): { from: number; to: number; sinceFirst: boolean } {
  const windowFrom = toMs - windowMs;
  // A sliver of data in a long window (one day of readings in a 30-day view) would be a line squeezed at the edge.
  if (firstMs !== null && firstMs > windowFrom) {
    const from = Math.max(windowFrom, Math.min(firstMs, toMs - Math.min(windowMs, MIN_SPAN_MS)));
    if (from > windowFrom) return { from: from / 1000, to: toMs / 1000, sinceFirst: true };
  }
  return { from: windowFrom / 1000, to: toMs / 1000, sinceFirst: false };
}

/**
 * A y range holding [min, max] with some air; a flat series (min == max) gets a band around its value (±1,
 * or ±10 % of a large value) instead of uPlot's default, which puts a flat line on the chart's edge.
 */
export function yRange(min: number | null, max: number | null, bounds?: { min?: number; max?: number }): [number, number] {
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [bounds?.min ?? 0, bounds?.max ?? 1];
  let lo = min;
  let hi = max;
  if (hi - lo < 1e-9) {
    const pad = Math.max(1, Math.abs(lo) * 0.1);
    lo -= pad;
    hi += pad;
  } else {
    const pad = (hi - lo) * 0.08;
    lo -= pad;
    hi += pad;
  }
  // Never beyond what the capability allows (a 0-100 % value does not need -8 %).
  if (bounds?.min !== undefined && min >= bounds.min) lo = Math.max(lo, bounds.min);
  if (bounds?.max !== undefined && max <= bounds.max) hi = Math.min(hi, bounds.max);
  return [lo, hi];
}

const tickFormats = new Map<string, Intl.DateTimeFormat>();

/** Tick labels for times (seconds) over a span of `spanMs`: time of day within a day, dates beyond, in the locale. */
export function timeTicks(spanMs: number, locale?: string): (seconds: number) => string {
  const kind = spanMs <= DAY_MS ? 'time' : spanMs <= 3 * DAY_MS ? 'daytime' : 'day';
  const key = `${locale ?? ''}|${kind}`;
  let f = tickFormats.get(key);
  if (!f) {
    const opts: Intl.DateTimeFormatOptions =
      kind === 'time' ? { hour: '2-digit', minute: '2-digit' } : kind === 'daytime' ? { weekday: 'short', hour: '2-digit', minute: '2-digit' } : { month: 'short', day: 'numeric' };
    tickFormats.set(key, (f = new Intl.DateTimeFormat(locale, opts)));
  }
  const format = f;
  return (seconds) => format.format(seconds * 1000);
}
