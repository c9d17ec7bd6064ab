// The hub's page (#/hub): live charts of readings/s, devices online, ACK latency p99 and MQTT clients over the
// last hour (the hub's own samples, GET /api/hub/samples), then connected devices, readings per second,
// storage size and retention, uptime and the TLS certificate's fingerprint.
import type { HubInfoResponse, HubSamplesResponse } from '../../hub/http/api-types.js';
import type { ApiClient } from './api-client.js';
import type { Dirty } from './device-store.js';
import { h, setText } from './dom.js';
import { formatBytes, formatDuration, formatFingerprint, formatNumber, formatRate } from './format.js';
import { RateMeter } from './rates.js';
import { SampleChart } from './sample-chart.js';
import type { View } from './view.js';

const POLL_MS = 2000;
const FIRST_POLL_MS = 1000;
/** The hub samples every 10 s; asking every 5 s shows a new sample within 5 s of it. */
const SAMPLES_POLL_MS = 5000;

type SampleKey = 'readingsPerSecond' | 'devicesOnline' | 'ackP99Ms' | 'mqttClients';
const SAMPLE_CHARTS: [SampleKey, string, (v: number) => string][] = [
  ['readingsPerSecond', 'Readings stored per second', (v) => formatRate(v)],
  ['devicesOnline', 'Devices online', (v) => formatNumber(v)],
  ['ackP99Ms', 'ACK latency, 99th percentile', (v) => `${formatNumber(v)} ms`],
  ['mqttClients', 'MQTT clients', (v) => formatNumber(v)],
];

export interface HubViewDeps {
  api: ApiClient;
  now: () => number;
  /** MQTT messages this page has received so far (for the page's own message rate). */
  liveMessages: () => number;
}

type Field = 'devices' | 'connections' | 'readingsRate' | 'readingsTotal' | 'mqttClients' | 'pageRate' | 'storage' | 'retention' | 'uptime' | 'hubId' | 'version' | 'fingerprint' | 'certificate';

const LABELS: Record<Field, string> = {
  devices: 'Devices online',
  connections: 'Device connections',
  readingsRate: 'Readings stored per second',
  readingsTotal: 'Readings stored since start',
  mqttClients: 'MQTT clients',
  pageRate: 'Live messages to this page',
  storage: 'Database size',
  retention: 'Kept',
  uptime: 'Uptime',
  hubId: 'Hub id',
  version: 'Version',
  fingerprint: 'TLS certificate SHA-256',
  certificate: 'Certificate file',
};

export class HubView implements View {
  readonly element: HTMLElement;
  readonly title = 'Hub';
  readonly #deps: HubViewDeps;
  readonly #values = new Map<Field, HTMLElement>();
  readonly #rows = new Map<Field, HTMLElement>();
  readonly #error: HTMLElement;
  readonly #readings = new RateMeter();
  readonly #messages = new RateMeter();
  readonly #charts = new Map<SampleKey, SampleChart>();
  #timer: ReturnType<typeof setTimeout> | null = null;
  #samplesTimer: ReturnType<typeof setTimeout> | null = null;
  #stopped = false;
  #polls = 0;

  constructor(deps: HubViewDeps) {
    this.#deps = deps;
    this.#error = h('p', { class: 'error', role: 'alert', hidden: true });
    const list = h('dl', { class: 'stats' });
    for (const field of Object.keys(LABELS) as Field[]) {
      const value = h('dd', { 'data-field': field }, '…');
      const row = h('div', { class: `stat stat-${field}` }, h('dt', {}, LABELS[field]), value);
      this.#values.set(field, value);
      this.#rows.set(field, row);
      list.append(row);
    }
    this.#rows.get('mqttClients')!.hidden = true;
    for (const [key, label, format] of SAMPLE_CHARTS) this.#charts.set(key, new SampleChart(key, label, format));
    this.element = h(
      'section',
      { class: 'view view-hub', 'aria-labelledby': 'hub-title' },
      h('h1', { id: 'hub-title' }, 'Hub'),
      this.#error,
      h('section', { class: 'panel', 'aria-labelledby': 'hub-hour-title' }, h('h2', { id: 'hub-hour-title' }, 'The last hour'), h('div', { class: 'charts charts-small' }, ...[...this.#charts.values()].map((c) => c.element))),
      h('section', { class: 'panel', 'aria-labelledby': 'hub-now-title' }, h('h2', { id: 'hub-now-title' }, 'Now'), list),
    );
  }

  mounted(): void {
    void this.#poll();
    void this.#pollSamples();
  }

  render(_dirty: Dirty): void {}

  destroy(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#samplesTimer) clearTimeout(this.#samplesTimer);
    for (const chart of this.#charts.values()) chart.destroy();
  }

  async #pollSamples(): Promise<void> {
    try {
      const answer = await this.#deps.api.hubSamples();
      if (this.#stopped) return;
      this.#showSamples(answer);
    } catch {
      // The stats below say when the hub is unreachable.
    }
    if (!this.#stopped) this.#samplesTimer = setTimeout(() => void this.#pollSamples(), SAMPLES_POLL_MS);
  }

  #showSamples(answer: HubSamplesResponse): void {
    const now = this.#deps.now();
    for (const [key, chart] of this.#charts) chart.set(answer.samples.map((s) => [s.ts, s[key]]), now);
    const { rawDays, rollupDays } = answer.retention;
    setText(this.#values.get('retention')!, `raw readings ${rawDays} d, rollups ${rollupDays} d`);
  }

  async #poll(): Promise<void> {
    try {
      const info = await this.#deps.api.hub();
      if (this.#stopped) return;
      this.#error.hidden = true;
      this.#show(info);
    } catch (err) {
      if (this.#stopped) return;
      this.#error.hidden = false;
      setText(this.#error, `Hub statistics unavailable: ${(err as Error).message}`);
    }
    // The first rate needs a second sample: take it sooner than the regular poll.
    this.#timer = setTimeout(() => void this.#poll(), this.#polls++ === 0 ? FIRST_POLL_MS : POLL_MS);
  }

  #show(info: HubInfoResponse): void {
    const now = this.#deps.now();
    const set = (field: Field, text: string) => setText(this.#values.get(field)!, text);
    const d = info.devices ?? {};
    set('devices', d.online !== undefined ? `${d.online} of ${d.total ?? '?'}` : '—');
    set('connections', d.connections !== undefined ? formatNumber(d.connections) : '—');
    const committed = info.ingest?.readingsCommitted;
    if (committed !== undefined) {
      const rate = this.#readings.sample(committed, now);
      set('readingsRate', rate === null ? 'measuring…' : formatRate(rate));
      set('readingsTotal', formatNumber(committed));
    }
    const clients = info.mqtt?.clients;
    this.#rows.get('mqttClients')!.hidden = clients === undefined;
    if (clients !== undefined) set('mqttClients', formatNumber(clients));
    const pageRate = this.#messages.sample(this.#deps.liveMessages(), now);
    set('pageRate', pageRate === null ? 'measuring…' : formatRate(pageRate));
    set('storage', info.storage?.bytes !== undefined ? formatBytes(info.storage.bytes) : '—');
    set('uptime', info.uptimeMs !== undefined ? formatDuration(info.uptimeMs) : '—');
    set('hubId', info.hubId ?? '—');
    set('version', info.version ?? '—');
    set('fingerprint', info.tls?.sha256 ? formatFingerprint(info.tls.sha256) : '—');
    set('certificate', info.tls?.certificate ?? '—');
  }
}
