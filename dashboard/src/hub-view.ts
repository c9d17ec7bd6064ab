// The hub's page (#/hub): connected devices, readings per second (from successive /api/hub counters), MQTT
// clients when the hub reports them, storage size, uptime and the TLS certificate's fingerprint.
import type { HubInfoResponse } from '../../hub/http/api-types.js';
import type { ApiClient } from './api-client.js';
import type { Dirty } from './device-store.js';
import { h, setText } from './dom.js';
import { formatBytes, formatDuration, formatFingerprint, formatNumber, formatRate } from './format.js';
import { RateMeter } from './rates.js';
import type { View } from './view.js';

const POLL_MS = 2000;
const FIRST_POLL_MS = 1000;

export interface HubViewDeps {
  api: ApiClient;
  now: () => number;
  /** MQTT messages this page has received so far (for the page's own message rate). */
  liveMessages: () => number;
}

type Field = 'devices' | 'connections' | 'readingsRate' | 'readingsTotal' | 'mqttClients' | 'pageRate' | 'storage' | 'uptime' | 'version' | 'fingerprint' | 'certificate';

const LABELS: Record<Field, string> = {
  devices: 'Devices online',
  connections: 'Device connections',
  readingsRate: 'Readings stored per second',
  readingsTotal: 'Readings stored since start',
  mqttClients: 'MQTT clients',
  pageRate: 'Live messages to this page',
  storage: 'Database size',
  uptime: 'Uptime',
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
  #timer: ReturnType<typeof setTimeout> | null = null;
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
    this.element = h('section', { class: 'view view-hub' }, h('h1', {}, 'Hub'), this.#error, h('div', { class: 'panel' }, list));
  }

  mounted(): void {
    void this.#poll();
  }

  render(_dirty: Dirty): void {}

  destroy(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
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
    set('version', info.version ?? '—');
    set('fingerprint', info.tls?.sha256 ? formatFingerprint(info.tls.sha256) : '—');
    set('certificate', info.tls?.certificate ?? '—');
  }
}
