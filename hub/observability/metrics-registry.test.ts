import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { MetricsError, type MetricsErrorCode } from './metrics-error.js';
import { MetricsRegistry } from './metrics-registry.js';
import { registerProcessMetrics } from './process-metrics.js';

function codeOf(fn: () => unknown): MetricsErrorCode | 'no error' {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MetricsError);
    return (err as MetricsError).code;
  }
  return 'no error';
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface ParsedFamily {
  type: string;
  help: string | undefined;
  samples: Sample[];
}

/**
 * Parses Prometheus text format 0.0.4 back, failing on any line that is not HELP, TYPE or a well-formed
 * sample, and on any sample that belongs to no family declared earlier with # TYPE (histograms own their
 * _bucket, _sum and _count samples). It also refuses a family whose samples are not one contiguous group.
 */
function parseExposition(text: string): Map<string, ParsedFamily> {
  const families = new Map<string, ParsedFamily>();
  if (text === '') return families;
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  let current: string | undefined;
  const closed = new Set<string>();
  for (const line of text.slice(0, -1).split('\n')) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      const family = families.get(name) ?? { type: 'untyped', help: undefined, samples: [] };
      families.set(name, family);
      if (kind === 'HELP') family.help = rest.replace(/\\(n|\\)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
      else {
        if (family.samples.length > 0) throw new Error(`# TYPE ${name} after its samples`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`bad type in "${line}"`);
        family.type = rest;
      }
      continue;
    }
    if (line.startsWith('#')) continue;
    const sample = parseSample(line);
    const owner = ownerOf(families, sample.name);
    if (owner === undefined) throw new Error(`sample "${line}" belongs to no declared # TYPE family`);
    if (closed.has(owner)) throw new Error(`samples of ${owner} are not one group`);
    if (current !== undefined && current !== owner) closed.add(current);
    current = owner;
    families.get(owner)!.samples.push(sample);
  }
  return families;
}

function ownerOf(families: Map<string, ParsedFamily>, sampleName: string): string | undefined {
  const direct = families.get(sampleName);
  if (direct && direct.type !== 'untyped' && direct.type !== 'histogram') return sampleName;
  const m = /^(.*)_(bucket|sum|count)$/.exec(sampleName);
  if (m && families.get(m[1]!)?.type === 'histogram') return m[1]!;
  return undefined;
}

function parseSample(line: string): Sample {
  const head = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (!head) throw new Error(`bad sample line "${line}"`);
  const name = head[1]!;
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    while (line[i] !== '}') {
      const key = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(i));
      if (!key) throw new Error(`bad label at ${i} in "${line}"`);
      i += key[0].length;
      let value = '';
      for (;;) {
        const c = line[i++];
        if (c === undefined) throw new Error(`unterminated label value in "${line}"`);
        if (c === '"') break;
        if (c === '\\') {
          const e = line[i++];
          if (e === 'n') value += '\n';
          else if (e === '\\' || e === '"') value += e;
          else throw new Error(`bad escape \\${e} in "${line}"`);
        } else value += c;
      }
      if (key[1]! in labels) throw new Error(`label ${key[1]} twice in "${line}"`);
      labels[key[1]!] = value;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new Error(`expected , or } at ${i} in "${line}"`);
    }
    i++;
  }
  const rest = /^ (\S+)$/.exec(line.slice(i));
  if (!rest) throw new Error(`bad value in "${line}"`);
  const text = rest[1]!;
  const value = text === 'NaN' ? NaN : text === '+Inf' ? Infinity : text === '-Inf' ? -Infinity : Number(text);
  if (Number.isNaN(value) && text !== 'NaN') throw new Error(`bad value in "${line}"`);
  return { name, labels, value };
}

describe('MetricsRegistry exposition (text format 0.0.4)', () => {
  it('renders counters: unlabelled from 0, labelled per label set in first-use order', () => {
    const r = new MetricsRegistry();
    const frames = r.counter('hearth_frames_received_total', 'Data frames received.');
    const refused = r.counter('hearth_frames_refused_total', 'Frames refused, by error code.', ['code']);
    expect(r.render()).toBe(
      '# HELP hearth_frames_received_total Data frames received.\n' +
        '# TYPE hearth_frames_received_total counter\n' +
        'hearth_frames_received_total 0\n' +
        '# HELP hearth_frames_refused_total Frames refused, by error code.\n' +
        '# TYPE hearth_frames_refused_total counter\n',
    );
    frames.inc();
    frames.inc(5);
    frames.inc(undefined, 0.5);
    refused.inc({ code: 'PROTO_ERR_TRUNCATED' });
    refused.inc({ code: 'HUB_ERR_RATE_LIMITED' }, 3);
    refused.inc({ code: 'PROTO_ERR_TRUNCATED' });
    expect(r.render()).toBe(
      '# HELP hearth_frames_received_total Data frames received.\n' +
        '# TYPE hearth_frames_received_total counter\n' +
        'hearth_frames_received_total 6.5\n' +
        '# HELP hearth_frames_refused_total Frames refused, by error code.\n' +
        '# TYPE hearth_frames_refused_total counter\n' +
        'hearth_frames_refused_total{code="PROTO_ERR_TRUNCATED"} 2\n' +
        'hearth_frames_refused_total{code="HUB_ERR_RATE_LIMITED"} 3\n',
    );
  });

  it('reads gauges and collected counters at scrape time, with labels from the callback', () => {
    const r = new MetricsRegistry();
    let online = 2;
    r.gauge('hearth_devices_online', 'Devices connected and greeted.', () => online);
    r.gauge('hearth_storage_bytes', 'Database files on disk, bytes.', () => [
      [{ file: 'hearth.db' }, 4096],
      [{ file: 'hearth.db-wal' }, 0],
    ]);
    let committed = 10;
    r.collectedCounter('hearth_readings_committed_total', 'Readings durably committed.', () => committed);
    const first = r.render();
    online = 0;
    committed = 25;
    expect(first).toContain('hearth_devices_online 2\n');
    expect(r.render()).toBe(
      '# HELP hearth_devices_online Devices connected and greeted.\n' +
        '# TYPE hearth_devices_online gauge\n' +
        'hearth_devices_online 0\n' +
        '# HELP hearth_storage_bytes Database files on disk, bytes.\n' +
        '# TYPE hearth_storage_bytes gauge\n' +
        'hearth_storage_bytes{file="hearth.db"} 4096\n' +
        'hearth_storage_bytes{file="hearth.db-wal"} 0\n' +
        '# HELP hearth_readings_committed_total Readings durably committed.\n' +
        '# TYPE hearth_readings_committed_total counter\n' +
        'hearth_readings_committed_total 25\n',
    );
  });

  it('renders histograms with cumulative buckets (upper bound inclusive), +Inf, _sum and _count', () => {
    const r = new MetricsRegistry();
    const h = r.histogram('hearth_commit_duration_seconds', 'Duration of one group commit.', [0.25, 0.5, 1]);
    for (const v of [0.125, 0.25, 0.5, 2]) h.observe(v);
    expect(r.render()).toBe(
      '# HELP hearth_commit_duration_seconds Duration of one group commit.\n' +
        '# TYPE hearth_commit_duration_seconds histogram\n' +
        'hearth_commit_duration_seconds_bucket{le="0.25"} 2\n' +
        'hearth_commit_duration_seconds_bucket{le="0.5"} 3\n' +
        'hearth_commit_duration_seconds_bucket{le="1"} 3\n' +
        'hearth_commit_duration_seconds_bucket{le="+Inf"} 4\n' +
        'hearth_commit_duration_seconds_sum 2.875\n' +
        'hearth_commit_duration_seconds_count 4\n',
    );
  });

  it('renders an unobserved histogram as zeros and a labelled one with le last', () => {
    const r = new MetricsRegistry();
    r.histogram('empty_seconds', 'Never observed.', [1, Infinity]);
    const byPath = r.histogram('request_seconds', 'By path.', [0.5], ['path']);
    byPath.observe(0.25, { path: '/api' });
    byPath.observe(0.75, { path: '/api' });
    expect(r.render()).toBe(
      '# HELP empty_seconds Never observed.\n' +
        '# TYPE empty_seconds histogram\n' +
        'empty_seconds_bucket{le="1"} 0\n' +
        'empty_seconds_bucket{le="+Inf"} 0\n' +
        'empty_seconds_sum 0\n' +
        'empty_seconds_count 0\n' +
        '# HELP request_seconds By path.\n' +
        '# TYPE request_seconds histogram\n' +
        'request_seconds_bucket{path="/api",le="0.5"} 1\n' +
        'request_seconds_bucket{path="/api",le="+Inf"} 2\n' +
        'request_seconds_sum{path="/api"} 1\n' +
        'request_seconds_count{path="/api"} 2\n',
    );
  });

  it('keeps buckets cumulative for any observations: each bucket >= the one before, +Inf = _count', () => {
    const r = new MetricsRegistry();
    const bounds = MetricsRegistry.exponentialBuckets(1, 2, 12);
    const h = r.histogram('hearth_commit_batch_size', 'Readings per group commit.', bounds);
    const observed = Array.from({ length: 500 }, (_, i) => (i * 37) % 5000);
    for (const v of observed) h.observe(v);
    const family = parseExposition(r.render()).get('hearth_commit_batch_size')!;
    const buckets = family.samples.filter((s) => s.name.endsWith('_bucket'));
    expect(buckets.map((b) => b.labels.le)).toEqual([...bounds.map(String), '+Inf']);
    buckets.forEach((b, i) => {
      const le = Number(b.labels.le === '+Inf' ? Infinity : b.labels.le);
      expect({ le, count: b.value }).toEqual({ le, count: observed.filter((v) => v <= le).length });
      if (i > 0) expect(b.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    });
    const get = (suffix: string) => family.samples.find((s) => s.name === `hearth_commit_batch_size_${suffix}`)!.value;
    expect(get('count')).toBe(observed.length);
    expect(buckets.at(-1)!.value).toBe(get('count'));
    expect(get('sum')).toBe(observed.reduce((a, b) => a + b, 0));
  });

  it('escapes label values (backslash, double quote, newline) and HELP text (backslash, newline)', () => {
    const r = new MetricsRegistry();
    const c = r.counter('escapes_total', 'Help with \\ backslash\nand a second line, "quotes" kept.', ['v']);
    const raw = 'C:\\dir "quoted"\nnext';
    c.inc({ v: raw });
    expect(r.render()).toBe(
      '# HELP escapes_total Help with \\\\ backslash\\nand a second line, "quotes" kept.\n' +
        '# TYPE escapes_total counter\n' +
        'escapes_total{v="C:\\\\dir \\"quoted\\"\\nnext"} 1\n',
    );
    const parsed = parseExposition(r.render()).get('escapes_total')!;
    expect(parsed.samples[0]!.labels.v).toBe(raw);
    expect(parsed.help).toBe('Help with \\ backslash\nand a second line, "quotes" kept.');
  });

  it('renders NaN and infinities the way Prometheus parses them', () => {
    const r = new MetricsRegistry();
    r.gauge('odd', 'Odd values.', () => [[{ k: 'nan' }, NaN], [{ k: 'inf' }, Infinity], [{ k: 'ninf' }, -Infinity]]);
    expect(r.render().split('\n').slice(2, 5)).toEqual(['odd{k="nan"} NaN', 'odd{k="inf"} +Inf', 'odd{k="ninf"} -Inf']);
  });

  it('renders nothing for an empty registry and serves the 0.0.4 content type', () => {
    expect(new MetricsRegistry().render()).toBe('');
    expect(MetricsRegistry.CONTENT_TYPE).toBe('text/plain; version=0.0.4; charset=utf-8');
  });
});

describe('MetricsRegistry validation', () => {
  it('refuses metric names outside [a-zA-Z_:][a-zA-Z0-9_:]* at registration', () => {
    const r = new MetricsRegistry();
    for (const bad of ['', '1abc', 'a-b', 'a b', 'a.b', 'caf\u00e9']) {
      expect({ bad, code: codeOf(() => r.counter(bad, 'x')) }).toEqual({ bad, code: 'HUB_ERR_METRIC_NAME' });
      expect({ bad, code: codeOf(() => r.gauge(bad, 'x', () => 0)) }).toEqual({ bad, code: 'HUB_ERR_METRIC_NAME' });
      expect({ bad, code: codeOf(() => r.histogram(bad, 'x', [1])) }).toEqual({ bad, code: 'HUB_ERR_METRIC_NAME' });
    }
    for (const good of ['a', '_a', 'a:b', ':a1_b']) expect({ good, code: codeOf(() => r.counter(good, 'x')) }).toEqual({ good, code: 'no error' });
  });

  it('refuses label names outside [a-zA-Z_][a-zA-Z0-9_]*, reserved __ names, duplicates, and le on a histogram', () => {
    const r = new MetricsRegistry();
    for (const bad of ['1a', 'a-b', 'a:b', '__name', '']) {
      expect({ bad, code: codeOf(() => r.counter('c_total', 'x', [bad])) }).toEqual({ bad, code: 'HUB_ERR_METRIC_NAME' });
    }
    expect(codeOf(() => r.counter('dup_labels_total', 'x', ['a', 'a']))).toBe('HUB_ERR_METRIC_LABELS');
    expect(codeOf(() => r.histogram('h_seconds', 'x', [1], ['le']))).toBe('HUB_ERR_METRIC_NAME');
    expect(codeOf(() => r.counter('ok_total', 'x', ['_a', 'B9']))).toBe('no error');
  });

  it('refuses a second family of the same name, or one that collides with histogram samples', () => {
    const r = new MetricsRegistry();
    r.counter('x_total', 'x');
    r.histogram('lat_seconds', 'x', [1]);
    expect(codeOf(() => r.gauge('x_total', 'x', () => 0))).toBe('HUB_ERR_METRIC_DUPLICATE');
    expect(codeOf(() => r.counter('lat_seconds_count', 'x'))).toBe('HUB_ERR_METRIC_DUPLICATE');
    r.counter('foo_sum', 'x');
    expect(codeOf(() => r.histogram('foo', 'x', [1]))).toBe('HUB_ERR_METRIC_DUPLICATE');
  });

  it('refuses empty, unsorted or non-finite buckets', () => {
    const r = new MetricsRegistry();
    for (const buckets of [[], [1, 1], [2, 1], [NaN], [1, Infinity, 2], [-Infinity, 1]]) {
      expect({ buckets, code: codeOf(() => r.histogram('b', 'x', buckets)) }).toEqual({ buckets, code: 'HUB_ERR_METRIC_BUCKETS' });
    }
    expect(codeOf(() => MetricsRegistry.exponentialBuckets(0, 2, 3))).toBe('HUB_ERR_METRIC_BUCKETS');
    expect(MetricsRegistry.exponentialBuckets(0.001, 2, 4)).toEqual([0.001, 0.002, 0.004, 0.008]);
    expect(MetricsRegistry.exponentialBuckets(0.0001, 4, 3)).toEqual([0.0001, 0.0004, 0.0016]);
  });

  it('refuses labels that differ from the declared ones, negative increments and NaN observations', () => {
    const r = new MetricsRegistry();
    const plain = r.counter('plain_total', 'x');
    const coded = r.counter('coded_total', 'x', ['code']);
    const h = r.histogram('h_seconds', 'x', [1], ['code']);
    expect(codeOf(() => plain.inc({ code: 'A' }))).toBe('HUB_ERR_METRIC_LABELS');
    expect(codeOf(() => coded.inc())).toBe('HUB_ERR_METRIC_LABELS');
    expect(codeOf(() => coded.inc({ kode: 'A' }))).toBe('HUB_ERR_METRIC_LABELS');
    expect(codeOf(() => coded.inc({ code: 'A', extra: 'B' }))).toBe('HUB_ERR_METRIC_LABELS');
    expect(codeOf(() => h.observe(1))).toBe('HUB_ERR_METRIC_LABELS');
    expect(codeOf(() => plain.inc(-1))).toBe('HUB_ERR_METRIC_VALUE');
    expect(codeOf(() => plain.inc(Infinity))).toBe('HUB_ERR_METRIC_VALUE');
    expect(codeOf(() => h.observe(NaN, { code: 'A' }))).toBe('HUB_ERR_METRIC_VALUE');
    // Refused calls changed nothing.
    expect(r.render()).toContain('plain_total 0\n');
    expect(r.render()).not.toContain('coded_total{');
  });

  it('renders a failing gauge as an empty family, tells onCollectError, and keeps the other families', () => {
    const onCollectError = jest.fn();
    const r = new MetricsRegistry({ onCollectError });
    r.gauge('broken', 'Throws.', () => {
      throw new Error('store closed');
    });
    r.gauge('bad_label', 'Returns a bad label name.', () => [[{ 'bad-name': 'x' }, 1]]);
    r.gauge('fine', 'Works.', () => 7);
    expect(r.render()).toBe(
      '# HELP broken Throws.\n# TYPE broken gauge\n' +
        '# HELP bad_label Returns a bad label name.\n# TYPE bad_label gauge\n' +
        '# HELP fine Works.\n# TYPE fine gauge\nfine 7\n',
    );
    expect(onCollectError.mock.calls.map((c) => c[0])).toEqual(['broken', 'bad_label']);
  });
});

describe('parsing the exposition back', () => {
  const processMetrics = (() => {
    const r = new MetricsRegistry();
    return { registry: r, handle: registerProcessMetrics(r) };
  })();
  afterAll(() => processMetrics.handle.stop());

  it('every sample line of a registry with every kind of family belongs to a declared # TYPE family', () => {
    const r = processMetrics.registry;
    processMetrics.handle.start();
    r.counter('hearth_frames_received_total', 'Frames.').inc(3);
    r.counter('hearth_frames_refused_total', 'Refused.', ['code']).inc({ code: 'PROTO_ERR_TRUNCATED' });
    r.histogram('hearth_ack_latency_seconds', 'Accepted to ACK.', MetricsRegistry.exponentialBuckets(0.0005, 2, 10)).observe(0.003);
    r.gauge('hearth_mqtt_clients', 'Clients.', () => [[{ listener: 'tcp' }, 1], [{ listener: 'ws' }, 2]]);
    const families = parseExposition(r.render());
    expect([...families.keys()]).toEqual(expect.arrayContaining(['process_cpu_seconds_total', 'hearth_ack_latency_seconds', 'hearth_mqtt_clients']));
    for (const [name, f] of families) {
      expect({ name, type: f.type, help: typeof f.help }).toEqual({ name, type: expect.stringMatching(/^(counter|gauge|histogram)$/), help: 'string' });
    }
    expect(families.get('hearth_ack_latency_seconds')!.samples).toHaveLength(10 + 1 + 2);
  });

  it('the parser itself refuses a sample without a family, a split family and a malformed line', () => {
    expect(() => parseExposition('# TYPE a counter\na 1\nb 2\n')).toThrow('belongs to no declared # TYPE family');
    expect(() => parseExposition('# TYPE h histogram\nh 1\n')).toThrow('belongs to no declared # TYPE family');
    expect(() => parseExposition('# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na 2\n')).toThrow('not one group');
    expect(() => parseExposition('# TYPE a gauge\na{x="1} 1\n')).toThrow();
    expect(() => parseExposition('# TYPE a gauge\na one\n')).toThrow('bad value');
  });
});
