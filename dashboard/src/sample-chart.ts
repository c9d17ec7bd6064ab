// A small line chart of one hub status series over the last hour (the hub page), with a hover legend giving
// the value and the time in the browser's locale.
import uPlot from 'uplot';
import { timeTicks, yRange } from './chart-scales.js';
import { h, setAttr } from './dom.js';
import { formatDateTime } from './format.js';

const HEIGHT = 140;
const HOUR_MS = 3600_000;

export class SampleChart {
  readonly element: HTMLElement;
  readonly #box: HTMLElement;
  readonly #format: (v: number) => string;
  readonly #label: string;
  #plot: uPlot | null = null;
  #resize: ResizeObserver | null = null;
  #data: [number[], (number | null)[]] = [[], []];
  #toMs = 0;

  constructor(key: string, label: string, format: (v: number) => string) {
    this.#label = label;
    this.#format = format;
    this.#box = h('div', { class: 'chart-plot' });
    this.element = h('figure', { class: 'chart chart-small', 'data-sample': key, 'data-points': '0' }, h('figcaption', {}, label), this.#box);
  }

  /** Replaces the points (ms, value or null for a gap) and draws them over the hour ending at `toMs`. */
  set(points: readonly [number, number | null][], toMs: number): void {
    this.#data = [points.map((p) => p[0] / 1000), points.map((p) => p[1])];
    this.#toMs = toMs;
    if (!this.#plot) this.#create();
    this.#plot!.setData(this.#data);
    setAttr(this.element, 'data-points', String(points.length));
  }

  destroy(): void {
    this.#resize?.disconnect();
    this.#plot?.destroy();
    this.#plot = null;
  }

  #create(): void {
    const css = getComputedStyle(document.documentElement);
    const color = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
    const fg = color('--muted', '#666');
    const grid = color('--grid', 'rgba(128,128,128,0.2)');
    const ticks = timeTicks(HOUR_MS);
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    this.#plot = new uPlot(
      {
        width: Math.max(200, this.#box.clientWidth || 300),
        height: HEIGHT,
        scales: {
          x: { time: true, range: () => [(this.#toMs - HOUR_MS) / 1000, this.#toMs / 1000] },
          y: {
            range: (_u, min, max) => {
              const [lo, hi] = yRange(min, max);
              return [Math.max(0, lo), hi];
            },
          },
        },
        series: [
          { value: (_u, v) => (v === null ? '—' : formatDateTime(v * 1000)) },
          { label: this.#label, stroke: color('--accent', '#2563eb'), width: 2, points: { show: () => this.#data[0].length <= 2, size: 6 }, spanGaps: false, value: (_u, v) => (v === null ? '—' : this.#format(v)) },
        ],
        legend: { show: true, live: true },
        cursor: { drag: { x: false, y: false } },
        axes: [
          { ...axis, space: 90, values: (_u, splits) => splits.map(ticks) },
          { ...axis, size: 60, values: (_u, splits) => splits.map((v) => this.#format(v)) },
        ],
      },
      this.#data,
      this.#box,
    );
    this.#resize = new ResizeObserver(() => {
      const width = this.#box.clientWidth;
      if (this.#plot && width > 0 && Math.abs(width - this.#plot.width) > 1) this.#plot.setSize({ width, height: HEIGHT });
    });
    this.#resize.observe(this.#box);
  }
}
