// The admin's part of a device page: rename, move to a room, revoke and remove, each confirmed by a dialog
// naming the device. Changes go through the HTTP API; every open page (and MQTT, Home Assistant) follows
// through the hub's bridge/devices, so this panel never patches the store itself.
import type { BridgeDevice } from '../../hub/mqtt/topics.js';
import type { ApiClient } from './api-client.js';
import { confirmAction } from './dialogs.js';
import { h, setText } from './dom.js';

export interface DeviceAdminDeps {
  api: ApiClient;
  /** The rooms in use, suggested for the room field. */
  rooms: () => string[];
  /** After a revoke or remove: leave the page, with a notice. */
  gone: (notice: string) => void;
}

let nextPanel = 0;

export class DeviceAdminPanel {
  readonly element: HTMLElement;
  readonly #deps: DeviceAdminDeps;
  readonly #name: HTMLInputElement;
  readonly #room: HTMLInputElement;
  readonly #rooms: HTMLDataListElement;
  readonly #status: HTMLElement;
  #device: BridgeDevice | null = null;
  #shown = '';

  constructor(deps: DeviceAdminDeps) {
    this.#deps = deps;
    const n = ++nextPanel;
    this.#name = h('input', { id: `dev-name-${n}`, name: 'name', required: true, maxlength: 64, autocomplete: 'off' });
    this.#room = h('input', { id: `dev-room-${n}`, name: 'room', maxlength: 64, list: `dev-rooms-${n}`, autocomplete: 'off', placeholder: 'No room (Other)' });
    this.#rooms = h('datalist', { id: `dev-rooms-${n}` });
    this.#status = h('p', { class: 'form-status', role: 'status' });
    const save = h('button', { type: 'submit', class: 'primary', 'data-action': 'save-device' }, 'Save');
    const form = h(
      'form',
      { class: 'form form-row', 'data-form': 'device-settings' },
      h('div', { class: 'field' }, h('label', { for: this.#name.id }, 'Name'), this.#name),
      h('div', { class: 'field' }, h('label', { for: this.#room.id }, 'Room'), this.#room, this.#rooms),
      h('div', { class: 'field field-button' }, save),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.#save();
    });
    const revoke = h('button', { type: 'button', 'data-action': 'revoke-device' }, 'Revoke…');
    const remove = h('button', { type: 'button', class: 'danger', 'data-action': 'remove-device' }, 'Remove…');
    revoke.addEventListener('click', () => void this.#revoke());
    remove.addEventListener('click', () => void this.#remove());
    this.element = h(
      'section',
      { class: 'panel', 'aria-labelledby': `dev-admin-${n}`, 'data-panel': 'device-admin' },
      h('h2', { id: `dev-admin-${n}` }, 'Settings'),
      form,
      this.#status,
      h('div', { class: 'danger-zone' },
        h('p', {}, 'Revoking disconnects the device and refuses its token; its history stays. Removing also deletes everything it stored.'),
        h('div', { class: 'dialog-actions' }, revoke, remove)),
    );
  }

  /** Shows the device's current name and room, unless the admin is editing them. */
  update(device: BridgeDevice): void {
    this.#device = device;
    const shown = `${device.name}\u0000${device.room ?? ''}`;
    if (shown === this.#shown) return;
    this.#shown = shown;
    const editing = this.element.contains(document.activeElement) && document.activeElement instanceof HTMLInputElement;
    if (!editing) {
      this.#name.value = device.name;
      this.#room.value = device.room ?? '';
    }
    this.#rooms.replaceChildren(...this.#deps.rooms().map((r) => h('option', { value: r })));
  }

  async #save(): Promise<void> {
    const device = this.#device;
    if (!device) return;
    const name = this.#name.value.trim();
    const room = this.#room.value.trim() === '' ? null : this.#room.value.trim();
    if (name === device.name && room === (device.room ?? null)) return setText(this.#status, 'Nothing changed.');
    try {
      await this.#deps.api.patchDevice(device.id, { ...(name !== device.name ? { name } : {}), ...(room !== (device.room ?? null) ? { room } : {}) });
      setText(this.#status, room === null ? `Saved: “${name}”, no room.` : `Saved: “${name}” in ${room}.`);
    } catch (err) {
      setText(this.#status, `Not saved: ${(err as Error).message}`);
    }
  }

  async #revoke(): Promise<void> {
    const d = this.#device;
    if (!d) return;
    const ok = await confirmAction({
      title: `Revoke “${d.name}”?`,
      message: `“${d.name}” (${d.id}) is disconnected at once and its token stops working. Its history is kept. To use it again, add it under a new id.`,
      confirm: `Revoke ${d.name}`,
      danger: true,
    });
    if (!ok) return;
    try {
      await this.#deps.api.revoke(d.id);
      this.#deps.gone(`“${d.name}” was revoked.`);
    } catch (err) {
      setText(this.#status, `Not revoked: ${(err as Error).message}`);
    }
  }

  async #remove(): Promise<void> {
    const d = this.#device;
    if (!d) return;
    const ok = await confirmAction({
      title: `Remove “${d.name}”?`,
      message: `“${d.name}” (${d.id}) is disconnected and everything it stored (readings, events, commands) is deleted. This cannot be undone.`,
      confirm: `Remove ${d.name}`,
      danger: true,
    });
    if (!ok) return;
    try {
      await this.#deps.api.removeDevice(d.id);
      this.#deps.gone(`“${d.name}” was removed.`);
    } catch (err) {
      setText(this.#status, `Not removed: ${(err as Error).message}`);
    }
  }
}
