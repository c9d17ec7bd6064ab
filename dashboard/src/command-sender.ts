// Sends a control's command: over MQTT (`<base>/<device>/set/<command>`, result on `.../result`) when the live
// connection is up, else over HTTP. Either way the store shows it pending until the result or the wait ends.
import type { Topics } from '../../hub/mqtt/topics.js';
import { commandToMqtt, type JsonValue } from '../../protocol/value-form.js';
import type { ApiClient } from './api-client.js';
import type { DeviceStore } from './device-store.js';

export interface CommandTransport {
  publish(topic: string, payload: string): boolean;
}

export class CommandSender {
  readonly #store: DeviceStore;
  readonly #api: ApiClient;
  readonly #live: CommandTransport;
  readonly #topics: Topics;
  readonly #now: () => number;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(opts: { store: DeviceStore; api: ApiClient; live: CommandTransport; topics: Topics; now?: () => number }) {
    this.#store = opts.store;
    this.#api = opts.api;
    this.#live = opts.live;
    this.#topics = opts.topics;
    this.#now = opts.now ?? Date.now;
  }

  /** Sends `value` to a writable capability; the outcome arrives through the store. */
  send(deviceId: string, command: string, value: JsonValue): void {
    this.#store.startCommand(deviceId, command, value, this.#now());
    this.#armExpiry();
    if (this.#live.publish(this.#topics.set(deviceId, command), commandToMqtt(value))) return;
    this.#api.sendCommand(deviceId, command, value).then(
      (outcome) =>
        this.#store.applyCommandResult(deviceId, command, { id: null, status: outcome.status, message: outcome.message }, this.#now()),
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
