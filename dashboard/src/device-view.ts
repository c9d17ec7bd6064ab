// A device's page (#/device/<id>): its tile with every value and control; for admins its settings (rename,
// room, revoke, remove); a chart per numeric metric and a state timeline per boolean or enum over 1 h / 24 h /
// 7 d / 30 d with live points appended; the event log where the device has events and the command log where
// it has controls. Other parts add panels through `extraPanels` (firmware updates, say).
import type { ApiCommandLogEntry, ApiEvent } from '../../hub/http/api-types.js';
import type { CapabilitySummary } from '../../hub/mqtt/topics.js';
import { chartNumber, valueToJson, type JsonValue } from '../../protocol/value-form.js';
import type { ApiClient } from './api-client.js';
import { chartMetrics, timelineMetrics } from './capabilities.js';
import { DeviceAdminPanel, type DeviceAdminDeps } from './device-admin-panel.js';
import type { DeviceStore, Dirty } from './device-store.js';
import { DeviceTile } from './device-tile.js';
import { FirmwarePanel } from './firmware-panel.js';
import { h, replaceChildren, setText } from './dom.js';
import { formatDateTime, formatValue, metricLabel } from './format.js';
import { historyPath, RANGE_KEYS, RANGES, toSeries, type RangeKey } from './history.js';
import { MetricChart } from './metric-chart.js';
import { routeHash } from './routes.js';
import { StateTimeline } from './state-timeline.js';
import type { View } from './view.js';

const MAX_EVENT_ROWS = 200;

/** A panel another part adds to every device page, built once per page. */
export type DevicePanelFactory = (deviceId: string) => { element: HTMLElement; destroy?(): void };
/** Registered panels (the firmware part registers its own at start-up). */
export const extraPanels: DevicePanelFactory[] = [];

export interface DeviceViewDeps {
  id: string;
  store: DeviceStore;
  api: ApiClient;
  send: (deviceId: string, command: string, value: JsonValue) => void;
  canWrite: boolean;
  now: () => number;
  /** Asks for a frame (charts draw in render()). */
  requestRender: () => void;
  /** The admin's settings panel; null for other roles. */
  admin: DeviceAdminDeps | null;
}

export class DeviceView implements View {
  readonly element: HTMLElement;
  readonly #deps: DeviceViewDeps;
  readonly #tile: DeviceTile;
  readonly #firmware: FirmwarePanel;
  readonly #title: HTMLElement;
  readonly #admin: DeviceAdminPanel | null;
  readonly #charts = new Map<string, MetricChart>();
  readonly #timelines = new Map<string, StateTimeline>();
  readonly #chartBox: HTMLElement;
  readonly #rangeButtons = new Map<RangeKey, HTMLButtonElement>();
  readonly #events: HTMLTableSectionElement;
  readonly #commands: HTMLTableSectionElement;
  readonly #eventsPanel: HTMLElement;
  readonly #commandsPanel: HTMLElement;
  readonly #historyPanel: HTMLElement;
  readonly #extras: { element: HTMLElement; destroy?(): void }[];
  readonly #off: (() => void)[] = [];
  #range: RangeKey = '1h';
  #chartShape = '';
  #load = 0;
  #logsLoaded = false;
  #commandsTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(deps: DeviceViewDeps) {
    this.#deps = deps;
    this.#tile = new DeviceTile(deps.id, { send: deps.send, canWrite: deps.canWrite, full: true });
    this.#title = h('h1', { class: 'device-title' }, deps.id);
    this.#admin = deps.admin ? new DeviceAdminPanel(deps.admin) : null;
    this.#firmware = new FirmwarePanel({ id: deps.id, api: deps.api, canWrite: deps.canWrite });
    this.#chartBox = h('div', { class: 'charts' });
    this.#events = h('tbody');
    this.#commands = h('tbody');
    const ranges = h('div', { class: 'ranges', role: 'group', 'aria-label': 'Time range' });
    for (const key of RANGE_KEYS) {
      const button = h('button', { type: 'button', 'aria-pressed': String(key === this.#range), 'data-range': key }, RANGES[key].label);
      button.addEventListener('click', () => this.#setRange(key));
      this.#rangeButtons.set(key, button);
      ranges.append(button);
    }
    const th = (text: string, cls?: string) => h('th', { scope: 'col', ...(cls ? { class: cls } : {}) }, text);
    this.#historyPanel = h('section', { class: 'panel', 'aria-labelledby': 'history-title', hidden: true }, h('div', { class: 'panel-head' }, h('h2', { id: 'history-title' }, 'History'), ranges), this.#chartBox);
    this.#eventsPanel = h('section', { class: 'panel', 'aria-labelledby': 'events-title', hidden: true }, h('h2', { id: 'events-title' }, 'Events'),
      h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-labelledby': 'events-title' }, h('table', { class: 'log', 'data-log': 'events' }, h('thead', {}, h('tr', {}, th('Time'), th('Event'), th('Value'))), this.#events)));
    this.#commandsPanel = h('section', { class: 'panel', 'aria-labelledby': 'commands-title', hidden: true }, h('h2', { id: 'commands-title' }, 'Commands'),
      h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-labelledby': 'commands-title' }, h('table', { class: 'log', 'data-log': 'commands' }, h('thead', {}, h('tr', {}, th('Sent'), th('Command'), th('Value'), th('By', 'col-source'), th('Result'))), this.#commands)));
    this.#extras = extraPanels.map((make) => make(deps.id));
    this.element = h(
      'section',
      { class: 'view view-device', 'data-device': deps.id },
      h('p', { class: 'back' }, h('a', { href: routeHash({ name: 'home' }) }, '← All devices')),
      this.#title,
      this.#tile.element,
      this.#historyPanel,
      h('div', { class: 'logs' }, this.#eventsPanel, this.#commandsPanel),
      this.#firmware.element,
      ...this.#extras.map((p) => p.element),
      this.#admin?.element ?? null,
    );
    this.#off.push(
      deps.store.events.on('point', (p) => {
        if (p.device !== deps.id) return;
        const y = chartNumber(p.value);
        if (y !== null) this.#charts.get(p.metric)?.append(p.ts, y);
        this.#timelines.get(p.metric)?.append(p.ts, p.value);
      }),
      deps.store.events.on('event', (e) => {
        if (e.device === deps.id) this.#prependEvent({ name: e.name, ts: e.event.ts, value: e.event.value });
      }),
      deps.store.events.on('commandResult', (r) => {
        if (r.device === deps.id) this.#refreshCommandsSoon();
      }),
    );
  }

  get title(): string {
    return this.#deps.store.get(this.#deps.id)?.meta?.name ?? this.#deps.id;
  }

  mounted(): void {
    this.#syncDevice();
  }

  render(dirty: Dirty): void {
    if (dirty.list || dirty.devices.has(this.#deps.id)) this.#syncDevice();
    for (const chart of this.#charts.values()) chart.flush();
    for (const timeline of this.#timelines.values()) timeline.flush();
  }

  destroy(): void {
    this.#firmware.destroy();
    for (const off of this.#off) off();
    for (const chart of this.#charts.values()) chart.destroy();
    for (const p of this.#extras) p.destroy?.();
    if (this.#commandsTimer) clearTimeout(this.#commandsTimer);
    this.#load++;
  }

  #syncDevice(): void {
    const entry = this.#deps.store.get(this.#deps.id);
    this.#tile.element.hidden = !entry?.meta;
    if (this.#admin) this.#admin.element.hidden = !entry?.meta;
    if (!entry?.meta) {
      setText(this.#title, this.#deps.store.list().length > 0 ? `No device “${this.#deps.id}”` : this.#deps.id);
      return;
    }
    setText(this.#title, entry.meta.name);
    this.#title.title = entry.meta.name;
    document.title = `${entry.meta.name} · Hearth`;
    this.#tile.update(entry, this.#deps.now());
    this.#firmware.sync(entry.meta);
    this.#admin?.update(entry.meta);
    const charts = chartMetrics(entry.meta);
    const timelines = timelineMetrics(entry.meta);
    const hasEvents = entry.meta.capabilities.some((c) => c.event);
    const hasCommands = entry.meta.capabilities.some((c) => c.writable);
    const shape = `${charts.map((m) => m.name).join(',')}|${timelines.map((m) => m.name).join(',')}|${hasEvents}|${hasCommands}`;
    if (shape !== this.#chartShape) {
      this.#chartShape = shape;
      this.#eventsPanel.hidden = !hasEvents;
      this.#commandsPanel.hidden = !hasCommands;
      this.#buildCharts(charts, timelines);
      if (!this.#logsLoaded || hasEvents || hasCommands) void this.#loadLogs(hasEvents, hasCommands);
    }
  }

  #buildCharts(metrics: CapabilitySummary[], states: CapabilitySummary[]): void {
    for (const chart of this.#charts.values()) chart.destroy();
    this.#charts.clear();
    this.#timelines.clear();
    for (const cap of metrics) this.#charts.set(cap.name, new MetricChart(cap));
    for (const cap of states) this.#timelines.set(cap.name, new StateTimeline(cap));
    this.#historyPanel.hidden = metrics.length + states.length === 0;
    replaceChildren(this.#chartBox, ...[...this.#charts.values()].map((c) => c.element), ...[...this.#timelines.values()].map((t) => t.element));
    void this.#loadHistory();
  }

  #setRange(range: RangeKey): void {
    if (range === this.#range) return;
    this.#range = range;
    for (const [key, button] of this.#rangeButtons) button.setAttribute('aria-pressed', String(key === range));
    void this.#loadHistory();
  }

  async #loadHistory(): Promise<void> {
    const load = ++this.#load;
    const { api, id, now } = this.#deps;
    const range = this.#range;
    const t = now();
    await Promise.all([
      ...[...this.#charts].map(async ([metric, chart]) => {
        try {
          let answer = await api.history(historyPath(id, metric, range, t));
          // A raw hour denser than the limit would be cut short: ask for per-minute rollups instead.
          if (answer.truncated && answer.step === 'raw') answer = await api.history(historyPath(id, metric, range, t, 'minute'));
          if (load === this.#load) chart.setSeries(toSeries(answer));
        } catch (err) {
          if (load === this.#load) chart.setError(`History unavailable: ${(err as Error).message}`);
        }
      }),
      // States are drawn from raw readings at every range: a rollup's mean of a switch is not a state.
      ...[...this.#timelines].map(async ([metric, timeline]) => {
        try {
          const answer = await api.history(historyPath(id, metric, range, t, 'raw'));
          if (load === this.#load) timeline.setPoints(answer.points.flatMap((p) => (p.value === undefined || p.value === null ? [] : [{ ts: p.ts, value: p.value }])), answer.from, answer.to);
        } catch (err) {
          if (load === this.#load) timeline.setError(`History unavailable: ${(err as Error).message}`);
        }
      }),
    ]);
    if (load === this.#load) this.#deps.requestRender();
  }

  async #loadLogs(events: boolean, commands: boolean): Promise<void> {
    this.#logsLoaded = true;
    const { api, id } = this.#deps;
    if (events) {
      try {
        const list = await api.events(id, MAX_EVENT_ROWS);
        // The API lists oldest first within the window; the log reads newest first.
        const rows = [...list].sort((a, b) => b.ts - a.ts).map((e) => this.#eventRow(e));
        this.#events.replaceChildren(...rows);
        if (rows.length === 0) this.#events.append(emptyRow(3, 'No events in the last 24 h.'));
      } catch (err) {
        this.#events.replaceChildren(emptyRow(3, `Events unavailable: ${(err as Error).message}`));
      }
    }
    if (commands) await this.#loadCommands();
  }

  async #loadCommands(): Promise<void> {
    try {
      const commands = await this.#deps.api.commands(this.#deps.id);
      this.#commands.replaceChildren(...commands.map((c) => this.#commandRow(c)));
      if (commands.length === 0) this.#commands.append(emptyRow(5, 'No commands yet.'));
    } catch (err) {
      this.#commands.replaceChildren(emptyRow(5, `Commands unavailable: ${(err as Error).message}`));
    }
  }

  #refreshCommandsSoon(): void {
    if (this.#commandsTimer) return;
    this.#commandsTimer = setTimeout(() => {
      this.#commandsTimer = null;
      void this.#loadCommands();
    }, 300);
  }

  #prependEvent(e: ApiEvent): void {
    this.#events.querySelector('tr.empty')?.remove();
    this.#events.prepend(this.#eventRow(e));
    while (this.#events.rows.length > MAX_EVENT_ROWS) this.#events.lastElementChild?.remove();
  }

  #cap(name: string): CapabilitySummary | undefined {
    return this.#deps.store.get(this.#deps.id)?.meta?.capabilities.find((c) => c.name === name);
  }

  #eventRow(e: ApiEvent): HTMLTableRowElement {
    return h('tr', {}, h('td', {}, h('time', { datetime: new Date(e.ts).toISOString() }, formatDateTime(e.ts))), h('td', {}, metricLabel(e.name)), h('td', {}, formatValue(e.value, this.#cap(e.name))));
  }

  #commandRow(c: ApiCommandLogEntry): HTMLTableRowElement {
    const cap = this.#cap(c.command);
    const result = c.status === null ? 'pending' : c.status === 'ok' ? 'ok' : `${c.status}${c.message ? `: ${c.message}` : ''}`;
    return h(
      'tr',
      { 'data-status': c.status ?? 'pending' },
      h('td', {}, h('time', { datetime: new Date(c.sentAt).toISOString() }, formatDateTime(c.sentAt))),
      h('td', {}, metricLabel(c.command)),
      h('td', {}, formatValue(valueToJson(cap, c.value), cap)),
      h('td', { class: 'col-source', 'data-source': c.source }, c.source.replace(/^user:/, '')),
      h('td', {}, result),
    );
  }
}

function emptyRow(columns: number, text: string): HTMLTableRowElement {
  return h('tr', { class: 'empty' }, h('td', { colspan: columns }, text));
}
