// A device as a tile: name (a link to its page), model, online/offline with last seen, its main values with
// units, the battery, and a control per writable capability. Built once, then updated in place.
import type { CapabilitySummary } from '../../hub/mqtt/topics.js';
import type { JsonValue } from '../../protocol/value-form.js';
import { controlFor, tileLayout } from './capabilities.js';
import { createControl, type Control } from './controls.js';
import type { DeviceEntry } from './device-store.js';
import { h, setAttr, setText } from './dom.js';
import { formatAgo, formatClock, formatDateTime, formatValue, metricLabel } from './format.js';
import { routeHash } from './routes.js';

export interface TileDeps {
  send: (deviceId: string, command: string, value: JsonValue) => void;
  canWrite: boolean;
  /** Device pages list every value; tiles on the home view at most TILE_VALUES. */
  full?: boolean;
}

let nextBatteryId = 0;

interface ValueRow {
  cap: CapabilitySummary;
  value: HTMLElement;
}

export class DeviceTile {
  readonly element: HTMLElement;
  readonly #deps: TileDeps;
  readonly #name: HTMLAnchorElement;
  readonly #model: HTMLElement;
  readonly #status: HTMLElement;
  readonly #body: HTMLElement;
  #rows: ValueRow[] = [];
  #battery: { meter: HTMLMeterElement; text: HTMLElement } | null = null;
  #controls: Control[] = [];
  /** Why the controls are disabled (the device is offline), shown once above them. */
  #controlsNote: HTMLElement | null = null;
  /** Capabilities the body was built for; rebuilt when they change. */
  #shape = '';
  #meta: object | null = null;
  #label: string | null = null;

  constructor(id: string, deps: TileDeps) {
    this.#deps = deps;
    this.#name = h('a', { class: 'tile-name', href: routeHash({ name: 'device', id }) });
    this.#status = h('span', { class: 'tile-status' });
    this.#model = h('span', { class: 'tile-model' });
    this.#body = h('div', { class: 'tile-body' });
    // The status has a line of its own under the name, so it never squeezes the name.
    this.element = h(
      'article',
      { class: 'tile', 'data-device': id },
      h('header', { class: 'tile-head' }, h('h3', { class: 'tile-title' }, this.#name), h('p', { class: 'tile-sub' }, this.#status, this.#model)),
      this.#body,
    );
  }

  /** Shows `label` instead of the device's name (a name shortened under its room's heading); null: the name. */
  setLabel(label: string | null): void {
    this.#label = label;
  }

  /** Redraws from the store's entry; `now` for "last seen … ago". */
  update(entry: DeviceEntry, now: number): void {
    const meta = entry.meta;
    if (!meta) return;
    // The store replaces `meta` only when a devices list arrives; comparing capabilities is needed only then.
    if (meta !== this.#meta) {
      this.#meta = meta;
      const shape = JSON.stringify(meta.capabilities);
      if (shape !== this.#shape) {
        this.#shape = shape;
        this.#build(entry);
      }
    }
    const name = this.#label ?? meta.name;
    setText(this.#name, name);
    // Long names ellipsize (style.css); the full name is on hover.
    setAttr(this.#name, 'title', name === meta.name ? name : `${meta.name} (${meta.room ?? ''})`.replace(' ()', ''));
    const model = [meta.model, meta.type.replace(/_/g, ' ')].filter(Boolean).join(' · ') || meta.id;
    setText(this.#model, model);
    setAttr(this.#model, 'title', model);
    setAttr(this.element, 'data-online', String(entry.online));
    const blocked = entry.online ? null : offlineReason(entry, now);
    setText(this.#status, entry.online ? 'Online' : blocked!);
    setAttr(this.#status, 'title', entry.online || entry.lastSeen === null ? null : `last seen ${formatDateTime(entry.lastSeen)} (${formatAgo(entry.lastSeen, now)})`);

    for (const row of this.#rows) {
      const event = row.cap.event ? entry.events[row.cap.name] : undefined;
      const state = entry.state[row.cap.name];
      // An event shows its latest occurrence, from the live event or the stored value, whichever is newer.
      const latest = event && (!state || event.ts >= state.ts) ? event : state;
      const text = latest ? formatValue(latest.value, row.cap) + (row.cap.event ? ` · ${formatAgo(latest.ts, now)}` : '') : '—';
      setText(row.value, text);
      setAttr(row.value, 'title', text);
    }
    if (this.#battery) {
      const level = entry.state[this.#battery.meter.dataset.metric ?? '']?.value;
      if (typeof level === 'number') {
        if (this.#battery.meter.value !== level) this.#battery.meter.value = level;
        setText(this.#battery.text, `${Math.round(level)}%`);
      }
    }
    for (const control of this.#controls) control.update(entry, blocked);
    if (this.#controlsNote) {
      this.#controlsNote.hidden = blocked === null;
      setText(this.#controlsNote, blocked === null ? '' : `${blocked}: controls are disabled until it reconnects.`);
    }
  }

  #build(entry: DeviceEntry): void {
    const meta = entry.meta!;
    const layout = tileLayout(meta);
    const values = this.#deps.full ? meta.capabilities.filter((c) => !c.writable && c !== layout.battery) : layout.values;
    this.#rows = values.map((cap) => ({ cap, value: h('dd', { class: 'metric-value' }) }));
    const list = h(
      'dl',
      { class: 'metrics' },
      ...this.#rows.map((r) => h('div', { class: 'metric', 'data-metric': r.cap.name }, h('dt', {}, metricLabel(r.cap.name)), r.value)),
    );
    this.#battery = null;
    let battery: HTMLElement | null = null;
    if (layout.battery) {
      const meter = h('meter', { min: 0, max: layout.battery.max ?? 100, low: 20, high: 50, optimum: 100, 'data-metric': layout.battery.name });
      const text = h('span', {}, '—');
      const id = `bat-${++nextBatteryId}`;
      meter.id = id;
      battery = h('div', { class: 'battery', 'data-metric': layout.battery.name }, h('label', { for: id }, 'Battery'), meter, text);
      this.#battery = { meter, text };
    }
    this.#controls = layout.controls.map((cap) =>
      createControl(cap, controlFor(cap)!, { send: (command, value) => this.#deps.send(entry.id, command, value), canWrite: this.#deps.canWrite }),
    );
    this.#controlsNote = this.#controls.length > 0 ? h('p', { class: 'controls-note', hidden: true, 'data-controls-note': '' }) : null;
    this.#body.replaceChildren(
      ...[this.#rows.length > 0 ? list : null, battery, this.#controls.length > 0 ? h('div', { class: 'controls' }, this.#controlsNote, ...this.#controls.map((c) => c.element)) : null].filter(
        (n): n is HTMLElement => n !== null,
      ),
    );
  }
}

/** Why an offline device's controls are disabled: "Offline since 19:31", or "Never connected". */
export function offlineReason(entry: Pick<DeviceEntry, 'lastSeen'>, now: number): string {
  return entry.lastSeen === null ? 'Never connected' : `Offline since ${formatClock(entry.lastSeen, now)}`;
}
