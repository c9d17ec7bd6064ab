// "Add device" (admin): id, name, type (the simulator's model names are suggested) and room; then the token,
// shown this once, with a copy button and ready snippets for `hearth-sim --credentials` and for firmware.
// The new tile appears on every open page by itself (the hub republishes bridge/devices).
import type { ProvisionResponse } from '../../hub/http/api-types.js';
import { DEVICE_PATH_PREFIX, SUBPROTOCOL } from '../../protocol/constants.js';
import { ApiError, type ApiClient } from './api-client.js';
import { openDialog } from './dialogs.js';
import { h } from './dom.js';

/** The simulator's models (`hearth-sim --mix`): a type from this list also picks the simulated model. */
export const DEVICE_TYPES = ['thermostat', 'light', 'smart_plug', 'motion_sensor', 'door_contact', 'air_quality'];
const ID_PATTERN = '[A-Za-z0-9_.\\-]{1,64}';

let nextForm = 0;

/** Opens the dialog; `rooms` are suggested for the room field. */
export function openAddDevice(api: ApiClient, rooms: readonly string[], hubUrl: string): void {
  const n = ++nextForm;
  const field = (label: string, input: HTMLInputElement, hint?: string) => {
    input.id = `add-${n}-${input.name}`;
    return h('div', { class: 'field' }, h('label', { for: input.id }, label), input, hint ? h('small', { class: 'hint' }, hint) : null);
  };
  const id = h('input', { name: 'id', required: true, pattern: ID_PATTERN, maxlength: 64, autocomplete: 'off', spellcheck: 'false' });
  const name = h('input', { name: 'name', maxlength: 64, autocomplete: 'off' });
  const type = h('input', { name: 'type', maxlength: 64, list: `add-${n}-types`, autocomplete: 'off' });
  const room = h('input', { name: 'room', maxlength: 64, list: `add-${n}-rooms`, autocomplete: 'off' });
  const error = h('p', { class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Add device');
  const cancel = h('button', { type: 'button', 'data-action': 'cancel' }, 'Cancel');
  const form = h(
    'form',
    { class: 'form', 'data-form': 'add-device' },
    field('Device id', id, 'Letters, digits, _ . - (at most 64); the device connects with it.'),
    field('Name', name, 'Shown on the page and in Home Assistant; the id when empty.'),
    field('Type', type),
    h('datalist', { id: `add-${n}-types` }, ...DEVICE_TYPES.map((t) => h('option', { value: t }))),
    field('Room', room),
    h('datalist', { id: `add-${n}-rooms` }, ...rooms.map((r) => h('option', { value: r }))),
    error,
    h('div', { class: 'dialog-actions' }, cancel, submit),
  );
  const dialog = openDialog('Add a device', [form]);
  cancel.addEventListener('click', () => dialog.close());
  id.focus();
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    void (async () => {
      try {
        const answer = await api.provision({ id: id.value, ...(name.value.trim() ? { name: name.value.trim() } : {}), ...(type.value.trim() ? { type: type.value.trim() } : {}) });
        if (room.value.trim()) await api.patchDevice(answer.device.id, { room: room.value.trim() });
        dialog.body.replaceChildren(...tokenPanel(answer, hubUrl, () => dialog.close()));
        dialog.body.querySelector<HTMLElement>('[data-action="copy-token"]')?.focus();
      } catch (err) {
        error.textContent = err instanceof ApiError && err.code === 'HUB_ERR_DEVICE_EXISTS' ? `A device “${id.value}” exists already (perhaps revoked): choose another id.` : (err as Error).message;
        error.dataset.code = err instanceof ApiError ? err.code : '';
        submit.disabled = false;
      }
    })();
  });
}

/** The token, once, with a copy button and the snippets that use it. */
function tokenPanel(answer: ProvisionResponse, hubUrl: string, done: () => void): HTMLElement[] {
  const { device, token } = answer;
  const wss = hubUrl.replace(/^https:/, 'wss:').replace(/\/$/, '');
  const model = DEVICE_TYPES.includes(device.type) ? device.type : undefined;
  const credentials = JSON.stringify({ devices: [{ id: device.id, token, ...(model ? { model } : {}) }] }, null, 2);
  const sim = `hearth-sim --hub ${wss} --credentials ${device.id}.json --ca hub-cert.pem`;
  const firmware = [`URL:          ${wss}${DEVICE_PATH_PREFIX}${encodeURIComponent(device.id)}`, `Subprotocol:  ${SUBPROTOCOL}`, `Header:       Authorization: Bearer ${token}`].join('\n');
  const tokenBox = h('input', { id: `token-${device.id}`, class: 'token', readonly: true, value: token, 'data-token': '', spellcheck: 'false' });
  const status = h('span', { class: 'copy-status', role: 'status' });
  const copy = h('button', { type: 'button', 'data-action': 'copy-token' }, 'Copy token');
  copy.addEventListener('click', () => void copyText(token, tokenBox).then((ok) => (status.textContent = ok ? 'Copied.' : 'Select the token and copy it.')));
  const close = h('button', { type: 'button', class: 'primary', 'data-action': 'done' }, 'Done');
  close.addEventListener('click', done);
  const snippet = (title: string, text: string, kind: string) =>
    h('figure', { class: 'snippet' }, h('figcaption', {}, title), h('pre', { tabindex: '0', 'data-snippet': kind }, h('code', {}, text)));
  return [
    h('p', { class: 'dialog-message' }, `“${device.name}” (${device.id}) is added. Its token is shown only now: the hub keeps just a salted hash.`),
    h('div', { class: 'field' }, h('label', { for: tokenBox.id }, 'Device token'), h('div', { class: 'control-inline' }, tokenBox, copy), status),
    snippet(`Simulate it: save as ${device.id}.json, then run`, `${credentials}\n\n${sim}`, 'sim'),
    snippet('Or configure the firmware (firmware-protocol.md)', firmware, 'firmware'),
    h('div', { class: 'dialog-actions' }, close),
  ];
}

/** Copies through the Clipboard API, falling back to selecting the field; resolves whether it worked. */
async function copyText(text: string, field: HTMLInputElement): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    field.select();
    return document.execCommand?.('copy') ?? false;
  }
}
