// Sends a control's command over HTTP (POST /api/devices/:id/commands), so the hub's command log records it
// under the signed-in user (`user:<name>`), not under the MQTT session. The store shows it pending until the
// outcome or the wait ends; a failure rolls the control back to the state the device reports.
import type { JsonValue } from '../../protocol/value-form.js';
import type { ApiClient } from './api-client.js';
import type { DeviceStore } from './device-store.js';

export class CommandSender {
  readonly #store: DeviceStore;
  readonly #api: Pick<ApiClient, 'sendCommand'>;
  readonly #now: () => number;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(opts: { store: DeviceStore; api: Pick<ApiClient, 'sendCommand'>; now?: () => number }) {
    this.#store = opts.store;
    this.#api = opts.api;
    this.#now = opts.now ?? Date.now;
  }

  /** Sends `value` to a writable capability; the outcome arrives through the store. */
  send(deviceId: string, command: string, value: JsonValue): void {
    this.#store.startCommand(deviceId, command, value, this.#now());
    this.#armExpiry();
    this.#api.sendCommand(deviceId, command, value).then(
      (outcome) =>
        this.#store.applyCommandResult(deviceId, command, { id: outcome.commandId || null, status: outcome.status, message: outcome.message }, this.#now()),
      (err: Error) => this.#store.failCommand(deviceId, command, err.message, this.#now()),
    );
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #armExpiry(): void {
    if (this.#timer) clearTimeout(this.#timer);
    const next = this.#store.expireCommands(this.#now());
    if (next === null) {
      this.#timer = null;
      return;
    }
    this.#timer = setTimeout(() => this.#armExpiry(), Math.max(0, next - this.#now()) + 10);
  }
}
