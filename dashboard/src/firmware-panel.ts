// A device's firmware on its page (#/device/<id>): the installed version, its newest update's status and
// progress, and an Update button to the newest image of its model (admins) [FP-14].
import type { ApiFirmwareImage, ApiFirmwareUpdate } from '../../hub/http/api-types.js';
import type { ApiClient } from './api-client.js';
import { h, setAttr, setText } from './dom.js';
import { latestImage, updateLabel, updateOpen } from './firmware-format.js';

/** While an update runs the panel asks again this often (progress also shows on MQTT, for integrations). */
const POLL_MS = 1500;

export interface FirmwarePanelDeps {
  id: string;
  api: Pick<ApiClient, 'firmware' | 'deviceFirmware' | 'startUpdate'>;
  canWrite: boolean;
}

export class FirmwarePanel {
  readonly element: HTMLElement;
  readonly #deps: FirmwarePanelDeps;
  readonly #installed = h('span', { 'data-firmware': 'installed' });
  readonly #status = h('p', { class: 'firmware-status', role: 'status', 'data-firmware': 'status' });
  readonly #progress = h('progress', { max: 100, value: 0, hidden: true, 'aria-label': 'Update progress' });
  readonly #button = h('button', { type: 'button', hidden: true, 'data-action': 'firmware-update' }, 'Update');
  #model = '';
  #latest: ApiFirmwareImage | undefined;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #alive = true;

  constructor(deps: FirmwarePanelDeps) {
    this.#deps = deps;
    this.#button.addEventListener('click', () => void this.#update());
    this.element = h(
      'section',
      { class: 'panel firmware', 'aria-labelledby': 'firmware-title', hidden: true },
      h('h2', { id: 'firmware-title' }, 'Firmware'),
      h('p', {}, 'Installed: ', this.#installed),
      this.#status,
      this.#progress,
      this.#button,
    );
  }

  /** The device as the store knows it: shown only when it accepts updates. */
  sync(device: { model: string; type: string; firmware: string; updatable?: boolean } | undefined): void {
    this.element.hidden = device?.updatable !== true;
    if (!device?.updatable) return;
    const installed = device.firmware || '—';
    const model = device.model || device.type;
    // A new version in HELLO (the reboot) or another model: what to offer changes too.
    if (model !== this.#model || installed !== this.#installed.textContent) {
      setText(this.#installed, installed);
      this.#model = model;
      void this.refresh();
    }
  }

  async refresh(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const answers = await Promise.all([this.#deps.api.firmware(), this.#deps.api.deviceFirmware(this.#deps.id, 1)]).catch((err: Error) => err);
    if (!this.#alive) return;
    if (answers instanceof Error) {
      // A failed request (the hub busy or restarting) must not leave the panel without its offer: ask again.
      setText(this.#status, `Could not load the firmware state (${answers.message}); trying again`);
      this.#timer = setTimeout(() => void this.refresh(), POLL_MS);
      return;
    }
    const [overview, mine] = answers;
    this.#latest = latestImage(overview.images, this.#model);
    this.#show(mine.updates[0]);
  }

  destroy(): void {
    this.#alive = false;
    if (this.#timer) clearTimeout(this.#timer);
  }

  #show(u: ApiFirmwareUpdate | undefined): void {
    const open = updateOpen(u);
    setText(this.#status, updateLabel(u) || (this.#latest ? `Newest for this model: ${this.#latest.version}` : 'No firmware stored for this model'));
    this.#progress.hidden = !open;
    if (u) this.#progress.value = u.percent;
    const installed = this.#installed.textContent ?? '';
    const offer = this.#deps.canWrite && !open && this.#latest !== undefined && this.#latest.version !== installed;
    this.#button.hidden = !offer;
    setText(this.#button, this.#latest ? `Update to ${this.#latest.version}` : 'Update');
    setAttr(this.#button, 'disabled', null);
    if (open) this.#timer = setTimeout(() => void this.refresh(), POLL_MS);
  }

  async #update(): Promise<void> {
    if (!this.#latest) return;
    setAttr(this.#button, 'disabled', '');
    try {
      await this.#deps.api.startUpdate({ device: this.#deps.id, version: this.#latest.version });
    } catch (err) {
      setText(this.#status, `Could not start the update: ${(err as Error).message}`);
    }
    await this.refresh();
  }
}
