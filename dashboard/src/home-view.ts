// The home view: a tile per device, grouped by room or type, in a responsive grid.
import type { JsonValue } from '../../protocol/value-form.js';
import { groupDevices, nameInRoom } from './device-groups.js';
import type { DeviceStore, Dirty } from './device-store.js';
import { DeviceTile } from './device-tile.js';
import { h, replaceChildren } from './dom.js';
import type { View } from './view.js';

export interface HomeViewDeps {
  store: DeviceStore;
  send: (deviceId: string, command: string, value: JsonValue) => void;
  canWrite: boolean;
  now: () => number;
}

export class HomeView implements View {
  readonly element: HTMLElement;
  readonly title = 'Home';
  readonly #deps: HomeViewDeps;
  readonly #tiles = new Map<string, DeviceTile>();
  readonly #groups: HTMLElement;
  readonly #empty: HTMLElement;
  /** Group keys and device order of the current layout; an unchanged layout is not rebuilt. */
  #layoutKey = '';
  /**
   * Tiles near the viewport; the others are only marked stale and redrawn when they scroll into view, so a
   * home of hundreds of devices costs what the dozen on screen cost.
   */
  readonly #visible = new Set<string>();
  readonly #stale = new Set<string>();
  readonly #observer: IntersectionObserver | null;

  constructor(deps: HomeViewDeps) {
    this.#deps = deps;
    this.#groups = h('div', { class: 'groups' });
    this.#empty = h('p', { class: 'empty' }, 'No devices yet. Add one with `hearth device add`, then start it.');
    this.element = h('section', { class: 'view view-home', 'aria-labelledby': 'home-title' }, h('h1', { id: 'home-title', class: 'visually-hidden' }, 'Devices'), this.#groups);
    this.#observer = typeof IntersectionObserver === 'undefined' ? null : new IntersectionObserver((entries) => this.#onIntersect(entries), { rootMargin: '200px' });
    this.#layout();
  }

  render(dirty: Dirty): void {
    if (dirty.list) {
      this.#layout();
      return;
    }
    const now = this.#deps.now();
    for (const id of dirty.devices) {
      if (this.#observer && !this.#visible.has(id)) {
        this.#stale.add(id);
        continue;
      }
      const entry = this.#deps.store.get(id);
      if (entry) this.#tiles.get(id)?.update(entry, now);
    }
  }

  destroy(): void {
    this.#observer?.disconnect();
    this.#tiles.clear();
  }

  #onIntersect(entries: IntersectionObserverEntry[]): void {
    const now = this.#deps.now();
    for (const e of entries) {
      const id = (e.target as HTMLElement).dataset.device;
      if (id === undefined) continue;
      if (!e.isIntersecting) {
        this.#visible.delete(id);
        continue;
      }
      this.#visible.add(id);
      if (this.#stale.delete(id)) {
        const entry = this.#deps.store.get(id);
        if (entry) this.#tiles.get(id)?.update(entry, now);
      }
    }
  }

  /** Places every tile in its group; tiles are kept across layouts so controls keep focus and state. */
  #layout(): void {
    const { store, now } = this.#deps;
    const entries = store.list();
    const groups = groupDevices(entries.map((e) => ({ id: e.id, name: e.meta!.name, type: e.meta!.type })));
    const alive = new Set(entries.map((e) => e.id));
    for (const [id, tile] of this.#tiles) {
      if (alive.has(id)) continue;
      this.#observer?.unobserve(tile.element);
      this.#tiles.delete(id);
      this.#visible.delete(id);
      this.#stale.delete(id);
    }
    const t = now();
    const key = JSON.stringify(groups.map((g) => [g.key, g.devices.map((d) => [d.id, d.name])]));
    if (key === this.#layoutKey) {
      for (const e of entries) this.#tiles.get(e.id)?.update(e, t);
      return;
    }
    this.#layoutKey = key;
    if (groups.length === 0) {
      replaceChildren(this.#groups, this.#empty);
      return;
    }
    // Moving a tile to another section drops focus; it is given back to the same control afterwards.
    const focused = document.activeElement instanceof HTMLElement && this.element.contains(document.activeElement) ? document.activeElement : null;
    const sections = groups.map((group) => {
      const headingId = `group-${group.key.replace(/[^a-z0-9]+/gi, '-')}`;
      const tiles = group.devices.map((d) => {
        let tile = this.#tiles.get(d.id);
        if (!tile) {
          tile = new DeviceTile(d.id, { send: this.#deps.send, canWrite: this.#deps.canWrite });
          this.#tiles.set(d.id, tile);
          this.#observer?.observe(tile.element);
        }
        tile.setLabel(group.room ? nameInRoom(d.name, group.room) : null);
        tile.update(store.get(d.id)!, t);
        return tile.element;
      });
      return h('section', { class: 'group', 'aria-labelledby': headingId, 'data-group': group.key }, h('h2', { id: headingId }, group.title), h('div', { class: 'grid' }, ...tiles));
    });
    replaceChildren(this.#groups, ...sections);
    if (focused?.isConnected && document.activeElement !== focused) focused.focus({ preventScroll: true });
  }
}
