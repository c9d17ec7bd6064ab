// One metric's chart (uPlot). Raw history draws a line; rolled-up history (24 h, 7 d, 30 d) draws the mean
// with a min/max band. The x range is the chosen window, or "since first reading" when the data is shorter;
// a flat series gets a sensible y range; the hover legend gives value and time in the browser's locale. Live points are folded in and drawn at the next frame, and the
// container exposes how many points it holds (data-points) so tests and people can tell it has data.
import uPlot from 'uplot';
import type { CapabilitySummary } from '../../hub/mqtt/topics.js';
import { timeTicks, xRange, yRange } from './chart-scales.js';
import { h, setAttr } from './dom.js';
import { formatDateTime, formatNumber, formatValue, metricLabel, withUnit } from './format.js';
import { appendPoint, type SeriesData } from './history.js';

const HEIGHT = 180;

export class MetricChart {
  readonly element: HTMLElement;
  readonly #cap: CapabilitySummary;
  readonly #plotBox: HTMLElement;
  readonly #note: HTMLElement;
  #series: SeriesData | null = null;
  #plot: uPlot | null = null;
  #plotRollup = false;
  #dirty = false;
  #resize: ResizeObserver | null = null;

  constructor(cap: CapabilitySummary) {
    this.#cap = cap;
    this.#plotBox = h('div', { class: 'chart-plot' });
    this.#note = h('p', { class: 'chart-note' }, 'Loading…');
    const title = withUnit(metricLabel(cap.name), cap.unit ? `(${cap.unit})` : '');
    this.element = h('figure', { class: 'chart', 'data-metric': cap.name, 'data-points': '0' }, h('figcaption', {}, title), this.#plotBox, this.#note);
  }

  /** Replaces the data (a new range was loaded). */
  setSeries(series: SeriesData): void {
    this.#series = series;
    this.#dirty = true;
  }

  /** Shows why there is no data. */
  setError(message: string): void {
    this.#note.textContent = message;
  }

  /** Folds a live value in; it is drawn at the next flush(). */
  append(ts: number, value: number): void {
    if (this.#series && appendPoint(this.#series, ts, value)) this.#dirty = true;
  }

  /** Draws pending changes; call once per frame, with the element in the document. */
  flush(): void {
    if (!this.#dirty || !this.#series) return;
    this.#dirty = false;
    const s = this.#series;
    const rollup = s.step !== 'raw';
    if (!this.#plot || this.#plotRollup !== rollup) this.#create(rollup);
    let data: uPlot.AlignedData = rollup ? [s.xs, s.values, s.mins, s.maxs] : [s.xs, s.values];
    // A setting holds until changed: its last value is carried to the end of the window, so a lone change
    // (or a setting untouched for most of the range) still draws as a line.
    const last = s.xs.length - 1;
    if (this.#cap.writable && !rollup && last >= 0 && s.xs[last]! < s.toMs / 1000) data = [[...s.xs, s.toMs / 1000], [...s.values, s.values[last]!]];
    this.#plot!.setData(data);
    setAttr(this.element, 'data-points', String(s.xs.length));
    setAttr(this.element, 'data-step', s.step);
    const range = this.#xRange();
    setAttr(this.element, 'data-range-from', String(Math.round(range.from * 1000)));
    setAttr(this.element, 'data-since-first', String(range.sinceFirst));
    this.#note.textContent = s.xs.length === 0 ? 'No readings in this range.' : range.sinceFirst ? `Since the first reading, ${formatDateTime(s.xs[0]! * 1000)}` : '';
  }

  /** The window, or from the first point when the data starts later ("since first reading"). */
  #xRange(): { from: number; to: number; sinceFirst: boolean } {
    const s = this.#series!;
    return xRange(s.xs.length > 0 ? s.xs[0]! * 1000 : null, s.toMs, s.windowMs);
  }

  destroy(): void {
    this.#resize?.disconnect();
    this.#plot?.destroy();
    this.#plot = null;
  }

  #create(rollup: boolean): void {
    this.#plot?.destroy();
    this.#resize?.disconnect();
    this.#plotRollup = rollup;
    const css = getComputedStyle(document.documentElement);
    const color = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
    const fg = color('--muted', '#666');
    const grid = color('--grid', 'rgba(128,128,128,0.2)');
    const accent = color('--accent', '#2563eb');
    const band = color('--band', 'rgba(37,99,235,0.15)');
    const cap = this.#cap;
    const show = (_u: uPlot, v: number | null) => (v === null ? '—' : formatValue(v, cap));
    const series: uPlot.Series[] = [
      { value: (_u, v) => (v === null ? '—' : formatDateTime(v * 1000)) },
      {
        label: rollup ? 'mean' : metricLabel(cap.name),
        stroke: accent,
        width: 2,
        value: show,
        // Too few points for a line to show: draw them as dots.
        points: { show: () => (this.#series?.xs.length ?? 0) <= 2, size: 7 },
        // A setting (setpoint, brightness) holds until changed: drawn as steps, not as a ramp between changes.
        ...(cap.writable && !rollup ? { paths: uPlot.paths.stepped!({ align: 1 }) } : {}),
      },
    ];
    if (rollup) {
      series.push({ label: 'min', stroke: 'transparent', value: show, points: { show: false } });
      series.push({ label: 'max', stroke: 'transparent', value: show, points: { show: false } });
    }
    const opts: uPlot.Options = {
      width: Math.max(200, this.#plotBox.clientWidth || 600),
      height: HEIGHT,
      // The whole selected range, not just the span that has data, so every chart of the page lines up.
      scales: {
        x: { time: true, range: (_u, min, max) => (this.#series ? ((r) => [r.from, r.to] as [number, number])(this.#xRange()) : [min, max]) },
        y: { range: (_u, min, max) => yRange(min, max, { ...(cap.min !== undefined ? { min: cap.min } : {}), ...(cap.max !== undefined ? { max: cap.max } : {}) }) },
      },
      series,
      bands: rollup ? [{ series: [3, 2], fill: band }] : [],
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      axes: [
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, space: 90, values: (u, splits) => splits.map(timeTicks(((u.scales.x?.max ?? 0) - (u.scales.x?.min ?? 0)) * 1000)) },
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, size: 56, values: (_u, ticks) => ticks.map((t) => formatNumber(t)) },
      ],
    };
    this.#plot = new uPlot(opts, rollup ? [[], [], [], []] : [[], []], this.#plotBox);
    this.#resize = new ResizeObserver(() => {
      const width = this.#plotBox.clientWidth;
      if (this.#plot && width > 0 && Math.abs(width - this.#plot.width) > 1) this.#plot.setSize({ width, height: HEIGHT });
    });
    this.#resize.observe(this.#plotBox);
  }
}
