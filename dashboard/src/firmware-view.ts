// The rollout page (#/firmware): per model, its devices, its newest image and how the rollout of that image
// stands (done, running, failed, mean progress), a Roll out button for admins, and every device's newest
// update below [FP-14]. Polls the API while something runs.
import type { ApiDevice, FirmwareResponse } from '../../hub/http/api-types.js';
import type { ApiClient } from './api-client.js';
import { h, replaceChildren, setText } from './dom.js';
import { latestImage, rolloutSummary, updateLabel, updateOpen } from './firmware-format.js';
import { routeHash } from './routes.js';
import type { View } from './view.js';

const POLL_MS = 2000;

export interface FirmwareViewDeps {
  api: Pick<ApiClient, 'firmware' | 'devices' | 'startUpdate'>;
  /** Admins may start rollouts. */
  canRollOut: boolean;
}

export class FirmwareView implements View {
  readonly element: HTMLElement;
  readonly title = 'Firmware';
  readonly #deps: FirmwareViewDeps;
  readonly #models = h('tbody');
  readonly #updates = h('tbody');
  readonly #notice = h('p', { class: 'firmware-notice', role: 'status' });
  #timer: ReturnType<typeof setTimeout> | null = null;
  #alive = true;

  constructor(deps: FirmwareViewDeps) {
    this.#deps = deps;
    const head = (...cols: string[]) => h('thead', {}, h('tr', {}, ...cols.map((c) => h('th', { scope: 'col' }, c))));
    this.element = h(
      'section',
      { class: 'view view-firmware' },
      h('h1', {}, 'Firmware'),
      this.#notice,
      h('section', { class: 'panel', 'aria-labelledby': 'rollouts-title' }, h('h2', { id: 'rollouts-title' }, 'Rollouts by model'),
        h('div', { class: 'table-wrap' }, h('table', { class: 'log', 'data-firmware': 'models' }, head('Model', 'Devices', 'Newest image', 'Rollout', ''), this.#models))),
      h('section', { class: 'panel', 'aria-labelledby': 'updates-title' }, h('h2', { id: 'updates-title' }, 'Devices'),
        h('div', { class: 'table-wrap' }, h('table', { class: 'log', 'data-firmware': 'updates' }, head('Device', 'Installed', 'Newest update'), this.#updates))),
    );
  }

  mounted(): void {
    void this.#load();
  }

  render(): void {}

  destroy(): void {
    this.#alive = false;
    if (this.#timer) clearTimeout(this.#timer);
  }

  async #load(): Promise<void> {
    this.#timer = null;
    const [overview, devices] = await Promise.all([this.#deps.api.firmware(), this.#deps.api.devices()]).catch(() => [null, null] as const);
    if (!this.#alive) return;
    if (!overview || !devices) return setText(this.#notice, 'The hub did not answer; retrying.'), void (this.#timer = setTimeout(() => void this.#load(), POLL_MS));
    const running = this.#show(overview, devices.filter((d) => d.updatable === true));
    if (running) this.#timer = setTimeout(() => void this.#load(), POLL_MS);
  }

  /** Fills both tables; true while an update runs. */
  #show(overview: FirmwareResponse, devices: ApiDevice[]): boolean {
    setText(this.#notice, devices.length === 0 ? 'No device has declared firmware updates yet.' : '');
    const byModel = new Map<string, ApiDevice[]>();
    for (const d of devices) byModel.set(d.model || d.type, [...(byModel.get(d.model || d.type) ?? []), d]);
    const rows = [...byModel].map(([model, members]) => {
      const image = latestImage(overview.images, model);
      const summary = image ? rolloutSummary(overview.updates, new Set(members.map((d) => d.id)), image.version) : null;
      const c = summary?.counts;
      const status = !summary || summary.total === 0 ? '—' : `${c!.done} done, ${c!.queued + c!.transferring + c!.verifying} running (${summary.percent} %), ${c!.failed + c!.rolled_back} failed`;
      const everyoneHasIt = image !== undefined && members.every((d) => d.firmware === image.version);
      const button = h('button', { type: 'button', 'data-action': 'roll-out', hidden: !this.#deps.canRollOut || !image || everyoneHasIt }, image ? `Roll out ${image.version}` : 'Roll out');
      button.addEventListener('click', () => void this.#rollOut(model, image!.version));
      return h('tr', { 'data-model': model }, h('td', {}, model), h('td', {}, String(members.length)), h('td', {}, image ? image.version : 'none stored'), h('td', {}, status), h('td', {}, button));
    });
    replaceChildren(this.#models, ...rows);
    const newest = new Map<string, FirmwareResponse['updates'][number]>();
    for (const u of overview.updates) if (!newest.has(u.device)) newest.set(u.device, u);
    replaceChildren(
      this.#updates,
      ...devices.map((d) =>
        h('tr', { 'data-device': d.id },
          h('td', {}, h('a', { href: routeHash({ name: 'device', id: d.id }) }, d.name)),
          h('td', {}, d.firmware || '—'),
          h('td', {}, updateLabel(newest.get(d.id)) || '—')),
      ),
    );
    return [...newest.values()].some(updateOpen);
  }

  async #rollOut(model: string, version: string): Promise<void> {
    try {
      const r = await this.#deps.api.startUpdate({ model, version });
      setText(this.#notice, `${r.queued.length} queued${r.skipped.length ? `, ${r.skipped.length} skipped (${r.skipped[0]!.reason})` : ''}.`);
    } catch (err) {
      setText(this.#notice, `Could not start the rollout: ${(err as Error).message}`);
    }
    if (this.#timer) clearTimeout(this.#timer);
    await this.#load();
  }
}
