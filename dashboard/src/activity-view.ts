// The activity page (#/activity): the feed newest first, filtered by kind and by text. Live: it redraws at the
// next frame after the feed changes.
import type { ActivityEntry, ActivityFeed, ActivityKind } from './activity-feed.js';
import { ACTIVITY_BADGES, ACTIVITY_KINDS } from './activity-feed.js';
import type { Dirty } from './device-store.js';
import { h, setText } from './dom.js';
import { formatDateTime } from './format.js';
import { routeHash } from './routes.js';
import type { View } from './view.js';

/** Rows drawn at most; the feed itself keeps MAX_ACTIVITY. */
const MAX_ROWS = 300;

export class ActivityView implements View {
  readonly element: HTMLElement;
  readonly title = 'Activity';
  readonly #feed: ActivityFeed;
  readonly #rows: HTMLTableSectionElement;
  readonly #kind: HTMLSelectElement;
  readonly #text: HTMLInputElement;
  readonly #count: HTMLElement;
  readonly #off: () => void;
  readonly #requestRender: () => void;
  #dirty = true;

  constructor(deps: { feed: ActivityFeed; admin: boolean; requestRender: () => void }) {
    this.#feed = deps.feed;
    this.#requestRender = deps.requestRender;
    const kinds = (Object.keys(ACTIVITY_KINDS) as ActivityKind[]).filter((k) => k !== 'log' || deps.admin);
    this.#kind = h('select', { id: 'activity-kind', 'data-filter': 'kind' }, h('option', { value: '' }, 'Everything'), ...kinds.map((k) => h('option', { value: k }, ACTIVITY_KINDS[k])));
    this.#text = h('input', { id: 'activity-text', type: 'search', 'data-filter': 'text', placeholder: 'Device, command, code…', autocomplete: 'off' });
    const changed = () => {
      this.#dirty = true;
      this.#requestRender();
    };
    this.#kind.addEventListener('change', changed);
    this.#text.addEventListener('input', changed);
    this.#rows = h('tbody');
    this.#count = h('p', { class: 'muted', role: 'status' });
    this.element = h(
      'section',
      { class: 'view view-activity', 'aria-labelledby': 'activity-title' },
      h('h1', { id: 'activity-title' }, 'Activity'),
      h('div', { class: 'panel' },
        h('form', { class: 'form form-row', role: 'search', onsubmit: (e: Event) => e.preventDefault() },
          h('div', { class: 'field' }, h('label', { for: this.#kind.id }, 'Show'), this.#kind),
          h('div', { class: 'field' }, h('label', { for: this.#text.id }, 'Containing'), this.#text)),
        this.#count,
        h('div', { class: 'table-wrap table-tall', tabindex: '0', role: 'region', 'aria-label': 'Activity, newest first' }, h('table', { class: 'log', 'data-log': 'activity' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Time'), h('th', { scope: 'col' }, 'Kind'), h('th', { scope: 'col' }, 'What happened'))),
          this.#rows))),
    );
    this.#off = this.#feed.events.on('changed', changed);
  }

  render(_dirty: Dirty): void {
    if (!this.#dirty) return;
    this.#dirty = false;
    const kind = this.#kind.value;
    const text = this.#text.value.trim().toLowerCase();
    const shown = this.#feed.entries().filter((e) => (!kind || e.kind === kind) && (!text || e.text.toLowerCase().includes(text) || (e.device ?? '').toLowerCase().includes(text)));
    this.#rows.replaceChildren(...shown.slice(0, MAX_ROWS).map((e) => row(e)));
    if (shown.length === 0) this.#rows.append(h('tr', { class: 'empty' }, h('td', { colspan: 3 }, this.#feed.entries().length === 0 ? 'Nothing yet: what devices, commands and the hub do appears here as it happens.' : 'Nothing matches the filter.')));
    setText(this.#count, `${shown.length} of ${this.#feed.entries().length} entries, newest first.`);
  }

  destroy(): void {
    this.#off();
  }
}

function row(e: ActivityEntry): HTMLTableRowElement {
  const what = e.device ? h('a', { href: routeHash({ name: 'device', id: e.device }) }, e.text) : e.text;
  return h(
    'tr',
    { 'data-kind': e.kind, 'data-level': e.level },
    h('td', {}, h('time', { datetime: new Date(e.ts).toISOString() }, formatDateTime(e.ts))),
    h('td', {}, h('span', { class: `badge badge-${e.level}`, title: ACTIVITY_KINDS[e.kind] }, ACTIVITY_BADGES[e.kind])),
    h('td', { class: 'cell-text' }, what),
  );
}
