// A boolean or enum metric over time as a state timeline: one band per stretch of the same state (on/off,
// open/closed, heat/cool/off), coloured by state, each with its state and times on hover. Lines between
// 0 and 1 say nothing about a switch; bands say when it was on.
import type { CapabilitySummary } from '../../hub/mqtt/topics.js';
import type { JsonValue } from '../../protocol/value-form.js';
import { xRange } from './chart-scales.js';
import { h, setAttr } from './dom.js';
import { formatDateTime, formatValue, metricLabel } from './format.js';

/** Stretches drawn at most: beyond, neighbours narrower than a pixel merge visually anyway. */
const MAX_SEGMENTS = 2000;

export interface StatePoint {
  ts: number;
  value: JsonValue;
}

export interface Segment {
  from: number;
  to: number;
  state: string;
}

/** Stretches of equal state from points sorted by time, clipped to [fromMs, toMs]; the last lasts until toMs. */
export function toSegments(points: readonly StatePoint[], fromMs: number, toMs: number, label: (v: JsonValue) => string): Segment[] {
  const out: Segment[] = [];
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    const end = Math.min(i + 1 < points.length ? points[i + 1]!.ts : toMs, toMs);
    const start = Math.max(p.ts, fromMs);
    if (end <= start) continue;
    const state = label(p.value);
    const last = out[out.length - 1];
    if (last && last.state === state && last.to >= start) last.to = end;
    else out.push({ from: start, to: end, state });
  }
  return out;
}

export class StateTimeline {
  readonly element: HTMLElement;
  readonly #cap: CapabilitySummary;
  readonly #bar: HTMLElement;
  readonly #legend: HTMLElement;
  readonly #note: HTMLElement;
  readonly #states: string[];
  #points: StatePoint[] = [];
  #fromMs = 0;
  #toMs = 0;
  #dirty = false;

  constructor(cap: CapabilitySummary) {
    this.#cap = cap;
    this.#states = cap.valueType === 'bool' ? [formatValue(true, cap), formatValue(false, cap)] : [...(cap.options ?? [])];
    this.#bar = h('div', { class: 'timeline-bar', role: 'img' });
    this.#legend = h('ul', { class: 'timeline-legend' }, ...this.#states.map((s, i) => h('li', { 'data-state-index': String(i % 6) }, s)));
    this.#note = h('p', { class: 'chart-note' }, 'Loading…');
    this.element = h('figure', { class: 'chart timeline', 'data-metric': cap.name, 'data-kind': 'timeline', 'data-points': '0' }, h('figcaption', {}, metricLabel(cap.name)), this.#bar, this.#legend, this.#note);
  }

  /** Replaces the points (raw history) shown over [fromMs, toMs]. */
  setPoints(points: readonly StatePoint[], fromMs: number, toMs: number): void {
    this.#points = [...points].sort((a, b) => a.ts - b.ts);
    this.#fromMs = fromMs;
    this.#toMs = toMs;
    this.#dirty = true;
  }

  setError(message: string): void {
    this.#note.textContent = message;
  }

  /** A live value: the current state from `ts` on; drawn at the next flush(). */
  append(ts: number, value: JsonValue): void {
    const last = this.#points[this.#points.length - 1];
    if (last && ts <= last.ts) return;
    this.#points.push({ ts, value });
    const span = this.#toMs - this.#fromMs;
    this.#toMs = Math.max(this.#toMs, ts);
    this.#fromMs = Math.max(this.#fromMs, this.#toMs - span);
    this.#dirty = true;
  }

  /** Draws pending changes (once per frame). */
  flush(): void {
    if (!this.#dirty) return;
    this.#dirty = false;
    // Like the charts: the chosen window, or "since first reading" when the readings start later.
    const range = xRange(this.#points[0]?.ts ?? null, this.#toMs, this.#toMs - this.#fromMs);
    const from = range.from * 1000;
    const span = Math.max(1, this.#toMs - from);
    const label = (v: JsonValue) => formatValue(v, this.#cap);
    const segments = toSegments(this.#points, from, this.#toMs, label).slice(-MAX_SEGMENTS);
    setAttr(this.element, 'data-since-first', String(range.sinceFirst));
    this.#bar.replaceChildren(
      ...segments.map((s) => {
        const index = this.#states.indexOf(s.state);
        return h('span', {
          class: 'timeline-segment',
          'data-state': s.state,
          'data-state-index': String((index < 0 ? this.#states.length : index) % 6),
          title: `${s.state}: ${formatDateTime(s.from)} – ${formatDateTime(s.to)}`,
          style: `left:${((s.from - from) / span) * 100}%;width:${Math.max(0.2, ((s.to - s.from) / span) * 100)}%`,
        });
      }),
    );
    const totals = new Map<string, number>();
    for (const s of segments) totals.set(s.state, (totals.get(s.state) ?? 0) + (s.to - s.from));
    const covered = segments.reduce((n, s) => n + (s.to - s.from), 0);
    const summary = [...totals].map(([state, ms]) => `${state} ${Math.round((ms / Math.max(1, covered)) * 100)} %`).join(', ');
    const now = segments[segments.length - 1];
    setAttr(this.#bar, 'aria-label', segments.length === 0 ? `${metricLabel(this.#cap.name)}: no readings` : `${metricLabel(this.#cap.name)} from ${formatDateTime(from)}: ${summary}; ${now!.state} since ${formatDateTime(now!.from)}`);
    setAttr(this.element, 'data-points', String(this.#points.length));
    setAttr(this.element, 'data-segments', String(segments.length));
    this.#note.textContent = segments.length === 0 ? 'No readings in this range.' : `${range.sinceFirst ? 'Since the first reading, ' : ''}${formatDateTime(from)} – ${formatDateTime(this.#toMs)}`;
  }

  destroy(): void {}
}
