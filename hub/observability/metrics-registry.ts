import { MetricsError } from './metrics-error.js';

// A dependency-free Prometheus registry: counters and histograms updated in the hot path, gauges (and
// counters kept elsewhere) read by callback at scrape time, rendered in text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/).

/** Label name -> value of one series. */
export type Labels = Readonly<Record<string, string>>;

/** What a collect callback returns: one unlabelled value, or one value per label set. */
export type Collected = number | ReadonlyArray<readonly [Labels, number]>;

export interface Counter {
  /** Adds `n` (default 1, never negative) to the series of `labels` (omit them for an unlabelled counter). */
  inc(labels?: Labels | number, n?: number): void;
}

export interface Histogram {
  /** Counts `value` into the first bucket whose upper bound is >= value, and into _sum and _count. */
  observe(value: number, labels?: Labels): void;
  /** A copy of the series' counts so far; two snapshots' difference is the histogram of the time between them. */
  snapshot(labels?: Labels): HistogramSnapshot;
}

/** One histogram series at one moment: upper bounds (+Inf implied last) and per-bucket (not cumulative) counts. */
export interface HistogramSnapshot {
  readonly bounds: readonly number[];
  /** bounds.length + 1 entries, the last one for +Inf. */
  readonly counts: readonly number[];
}

export interface MetricsRegistryOptions {
  /** Told when a gauge or collected counter throws or returns garbage; its family is rendered without samples. */
  onCollectError?: (metric: string, err: unknown) => void;
}

type Type = 'counter' | 'gauge' | 'histogram';

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: Type;
  /** Appends the family's sample lines. */
  render(out: string[]): void;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const NO_LABELS: readonly string[] = [];

/** Registry of metric families; `render()` is the body of a /metrics answer. */
export class MetricsRegistry {
  /** The Content-Type of `render()`'s output. */
  static readonly CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

  readonly #families: Family[] = [];
  /** Every sample name in use, histograms' _bucket/_sum/_count included, so no two families can collide. */
  readonly #sampleNames = new Set<string>();
  readonly #onCollectError: (metric: string, err: unknown) => void;

  constructor(opts: MetricsRegistryOptions = {}) {
    this.#onCollectError = opts.onCollectError ?? (() => undefined);
  }

  /** `count` bucket bounds from `start`, each `factor` times the previous: exponentialBuckets(0.001, 2, 4) = [0.001, 0.002, 0.004, 0.008]. */
  static exponentialBuckets(start: number, factor: number, count: number): number[] {
    if (!(start > 0) || !(factor > 1) || !Number.isInteger(count) || count < 1) {
      throw new MetricsError('HUB_ERR_METRIC_BUCKETS', `exponentialBuckets needs start > 0, factor > 1, count >= 1; got ${start}, ${factor}, ${count}`);
    }
    // Rounded to 12 significant digits so 0.001 * 2^n prints as a plain decimal in the le label.
    return Array.from({ length: count }, (_, i) => Number((start * factor ** i).toPrecision(12)));
  }

  /** Registers a counter incremented by the caller; an unlabelled one renders 0 before its first inc(). */
  counter(name: string, help: string, labelNames: readonly string[] = NO_LABELS): Counter {
    const names = checkLabelNames(name, labelNames);
    const series = new SeriesMap<{ value: number }>(name, names, () => ({ value: 0 }));
    this.#add([name], {
      name,
      help,
      type: 'counter',
      render(out) {
        for (const [labels, s] of series.entries()) out.push(`${name}${labels} ${formatNumber(s.value)}`);
      },
    });
    return {
      inc(labels?: Labels | number, n = 1) {
        if (typeof labels === 'number') [labels, n] = [undefined, labels];
        if (!(n >= 0) || n === Infinity) throw new MetricsError('HUB_ERR_METRIC_VALUE', `${name}: a counter only goes up by a finite amount, got ${n}`);
        series.get(labels).value += n;
      },
    };
  }

  /** Registers a gauge whose value(s) `collect` returns at each scrape. */
  gauge(name: string, help: string, collect: () => Collected): void {
    this.#collected(name, help, 'gauge', collect);
  }

  /** Registers a counter whose running total is kept elsewhere (process CPU, ingest stats) and read at each scrape. */
  collectedCounter(name: string, help: string, collect: () => Collected): void {
    this.#collected(name, help, 'counter', collect);
  }

  /** Registers a histogram with the given upper bounds (+Inf is added); renders cumulative _bucket, _sum, _count. */
  histogram(name: string, help: string, buckets: readonly number[], labelNames: readonly string[] = NO_LABELS): Histogram {
    const names = checkLabelNames(name, labelNames);
    if (names.includes('le')) throw new MetricsError('HUB_ERR_METRIC_NAME', `${name}: "le" is reserved for histogram buckets`);
    const bounds = checkBuckets(name, buckets);
    const les = [...bounds.map(formatNumber), '+Inf'];
    const series = new SeriesMap(name, names, () => ({ counts: new Float64Array(bounds.length + 1), sum: 0, count: 0 }));
    this.#add([name, `${name}_bucket`, `${name}_sum`, `${name}_count`], {
      name,
      help,
      type: 'histogram',
      render(out) {
        for (const [labels, s] of series.entries()) {
          // `{a="x"}` -> `{a="x",le="..."}`; `` -> `{le="..."}`.
          const open = labels === '' ? '{' : `${labels.slice(0, -1)},`;
          let cumulative = 0;
          for (let i = 0; i < les.length; i++) {
            cumulative += s.counts[i]!;
            out.push(`${name}_bucket${open}le="${les[i]}"} ${formatNumber(cumulative)}`);
          }
          out.push(`${name}_sum${labels} ${formatNumber(s.sum)}`, `${name}_count${labels} ${formatNumber(s.count)}`);
        }
      },
    });
    return {
      observe(value: number, labels?: Labels) {
        if (Number.isNaN(value)) throw new MetricsError('HUB_ERR_METRIC_VALUE', `${name}: cannot observe NaN`);
        const s = series.get(labels);
        let i = 0;
        while (i < bounds.length && value > bounds[i]!) i++;
        s.counts[i]! += 1;
        s.sum += value;
        s.count += 1;
      },
      snapshot(labels?: Labels): HistogramSnapshot {
        return { bounds, counts: [...series.get(labels).counts] };
      },
    };
  }

  /** Every family in registration order, in Prometheus text format 0.0.4 (ends with a newline unless empty). */
  render(): string {
    const out: string[] = [];
    for (const f of this.#families) {
      out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
      f.render(out);
    }
    return out.length === 0 ? '' : `${out.join('\n')}\n`;
  }

  #collected(name: string, help: string, type: Type, collect: () => Collected): void {
    checkLabelNames(name, NO_LABELS);
    const onError = this.#onCollectError;
    this.#add([name], {
      name,
      help,
      type,
      render(out) {
        // Rendered into a scratch array first so a callback failing half-way leaves no partial family.
        const lines: string[] = [];
        try {
          const value = collect();
          if (typeof value === 'number') lines.push(`${name} ${formatNumber(value)}`);
          else if (Array.isArray(value)) for (const [labels, v] of value) lines.push(`${name}${labelsOf(name, labels)} ${formatNumber(v)}`);
          else throw new TypeError(`collect returned ${typeof value}`);
        } catch (err) {
          onError(name, err);
          return;
        }
        out.push(...lines);
      },
    });
  }

  #add(sampleNames: string[], family: Family): void {
    const taken = sampleNames.find((n) => this.#sampleNames.has(n));
    if (taken !== undefined) throw new MetricsError('HUB_ERR_METRIC_DUPLICATE', `${family.name}: "${taken}" is already registered`);
    for (const n of sampleNames) this.#sampleNames.add(n);
    this.#families.push(family);
  }
}

/** Series of one family by label values; an unlabelled family has its one series from the start. */
class SeriesMap<S> {
  readonly #metric: string;
  readonly #names: readonly string[];
  readonly #create: () => S;
  /** Key: the one label value, or the JSON array of them (unambiguous whatever the values contain). */
  readonly #series = new Map<string, { labels: string; state: S }>();

  constructor(metric: string, names: readonly string[], create: () => S) {
    this.#metric = metric;
    this.#names = names;
    this.#create = create;
    if (names.length === 0) this.#series.set('', { labels: '', state: create() });
  }

  get(labels: Labels | undefined): S {
    const names = this.#names;
    const given = labels === undefined ? 0 : Object.keys(labels).length;
    if (given !== names.length) throw this.#mismatch(labels);
    if (names.length === 0) return this.#series.get('')!.state;
    const values = names.map((n) => labels![n]);
    if (values.some((v) => typeof v !== 'string')) throw this.#mismatch(labels);
    const key = values.length === 1 ? values[0]! : JSON.stringify(values);
    let entry = this.#series.get(key);
    if (!entry) {
      entry = { labels: `{${names.map((n) => `${n}="${escapeLabelValue(labels![n]!)}"`).join(',')}}`, state: this.#create() };
      this.#series.set(key, entry);
    }
    return entry.state;
  }

  *entries(): Iterable<[string, S]> {
    for (const { labels, state } of this.#series.values()) yield [labels, state];
  }

  #mismatch(labels: Labels | undefined): MetricsError {
    return new MetricsError('HUB_ERR_METRIC_LABELS', `${this.#metric}: expected labels {${this.#names.join(', ')}}, got {${Object.keys(labels ?? {}).join(', ')}}`);
  }
}

function checkLabelNames(metric: string, labelNames: readonly string[]): readonly string[] {
  if (!METRIC_NAME.test(metric)) throw new MetricsError('HUB_ERR_METRIC_NAME', `"${metric}" is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)`);
  for (const l of labelNames) checkLabelName(metric, l);
  if (new Set(labelNames).size !== labelNames.length) throw new MetricsError('HUB_ERR_METRIC_LABELS', `${metric}: duplicated label name in [${labelNames.join(', ')}]`);
  return [...labelNames];
}

/** Label names already checked, so collected gauges pay the regex once per name, not per scrape. */
const checkedLabelNames = new Set<string>();

function checkLabelName(metric: string, label: string): void {
  if (checkedLabelNames.has(label)) return;
  // Names starting with __ are reserved for Prometheus' internal use.
  if (!LABEL_NAME.test(label) || label.startsWith('__')) {
    throw new MetricsError('HUB_ERR_METRIC_NAME', `${metric}: "${label}" is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)`);
  }
  checkedLabelNames.add(label);
}

function checkBuckets(metric: string, buckets: readonly number[]): number[] {
  const bounds = buckets.at(-1) === Infinity ? buckets.slice(0, -1) : [...buckets];
  const bad = bounds.length === 0 || bounds.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= bounds[i - 1]!));
  if (bad) throw new MetricsError('HUB_ERR_METRIC_BUCKETS', `${metric}: buckets must be finite and strictly increasing, got [${buckets.join(', ')}]`);
  return bounds;
}

function labelsOf(metric: string, labels: Labels): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(labels)) {
    checkLabelName(metric, k);
    parts.push(`${k}="${escapeLabelValue(String(v))}"`);
  }
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** Go's float formatting as Prometheus parses it: NaN, +Inf, -Inf, else the shortest round-trip decimal. */
function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  if (typeof n !== 'number') throw new TypeError(`expected a number, got ${typeof n}`);
  return String(n);
}

// Text format 0.0.4: label values escape \, " and newline; HELP escapes \ and newline only.
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
