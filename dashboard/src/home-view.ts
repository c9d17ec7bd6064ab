// The home view: a section per room ("Other" for devices without one) holding its tiles in a responsive grid;
// small rooms share a row instead of stretching one tile across it. Admins get an "Add device" button.
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
  /** Opens the add-device dialog; null for roles that may not add devices (no dead button). */
  addDevice: (() => void) | null;
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
    this.#empty = h('p', { class: 'empty' }, deps.addDevice ? 'No devices yet. Add one, then start it with its token.' : 'No devices yet. An admin adds them.');
    const head = h('div', { class: 'view-head' }, h('h1', { id: 'home-title' }, 'Devices'));
    if (deps.addDevice) {
      const add = h('button', { type: 'button', class: 'primary', 'data-action': 'add-device' }, 'Add device');
      add.addEventListener('click', () => deps.addDevice?.());
      head.append(add);
    }
    this.element = h('section', { class: 'view view-home', 'aria-labelledby': 'home-title' }, head, this.#groups);
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
    const groups = groupDevices(entries.map((e) => ({ id: e.id, name: e.meta!.name, room: e.meta!.room ?? null })));
    const alive = new Set(entries.map((e) => e.id));
    for (const [id, tile] of this.#tiles) {
      if (alive.has(id)) continue;
      this.#observer?.unobserve(tile.element);
      this.#tiles.delete(id);
      this.#visible.delete(id);
      this.#stale.delete(id);
    }
    const t = now();
    const key = JSON.stringify(groups.map((g) => [g.key, g.title, g.devices.map((d) => [d.id, d.name])]));
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
      // data-size lets the sheet give a room of one or two tiles one or two columns of the page's grid.
      const size = String(Math.min(tiles.length, 3));
      return h('section', { class: 'group', 'aria-labelledby': headingId, 'data-group': group.key, 'data-size': size }, h('h2', { id: headingId }, group.title), h('div', { class: 'grid' }, ...tiles));
    });
    replaceChildren(this.#groups, ...sections);
    if (focused?.isConnected && document.activeElement !== focused) focused.focus({ preventScroll: true });
  }
}
