// The dashboard's one model of the home: devices, their current values, availability, last events and the
// commands in flight. MQTT messages and API answers write here; views read here when a frame is drawn. It
// only records what changed (the dirty set), so a burst of messages costs one render, not one per message.
import type {
  Availability,
  BridgeDevice,
  BridgeEventPayload,
  CommandResultPayload,
  DeviceEventPayload,
  DeviceStatePayload,
  MetricState,
} from '../../hub/mqtt/topics.js';
import type { JsonValue } from '../../protocol/value-form.js';
import { TypedEmitter } from '../../protocol/typed-emitter.js';

export type CommandState =
  | { status: 'pending'; value: JsonValue; deadline: number }
  | { status: 'done'; value: JsonValue; at: number }
  | { status: 'failed'; value: JsonValue; reason: string; at: number };

export interface DeviceEntry {
  readonly id: string;
  /** null until a devices list names the device (its state may arrive first). */
  meta: BridgeDevice | null;
  state: Record<string, MetricState>;
  online: boolean;
  lastSeen: number | null;
  /** Latest occurrence of each event, by event name. */
  events: Record<string, DeviceEventPayload>;
  /** Last command per writable capability, by capability name. */
  commands: Record<string, CommandState>;
}

export interface DeviceStoreEvents {
  /** A metric got a newer value than it had (one per metric per state message). */
  point: { device: string; metric: string; ts: number; value: JsonValue };
  event: { device: string; name: string; event: DeviceEventPayload };
  commandResult: { device: string; command: string; result: CommandResultPayload };
  /** A device joined, left, connected, disconnected or changed (`<base>/bridge/event`), for the activity feed. */
  bridgeEvent: BridgeEventPayload;
}

export interface Dirty {
  /** The set of devices or their grouping (name, type, room) changed: views rebuild their layout. */
  list: boolean;
  /** Devices whose shown data changed. */
  devices: Set<string>;
}

/** How long a command waits for its result before the dashboard gives up (the hub's own timeout is 10 s). */
export const COMMAND_WAIT_MS = 15_000;

export class DeviceStore {
  readonly events = new TypedEmitter<DeviceStoreEvents>();
  readonly #entries = new Map<string, DeviceEntry>();
  readonly #onChange: () => void;
  #haveList = false;
  #dirty: Dirty = { list: false, devices: new Set() };
  /** Whether the hub's MQTT bridge says it is online (bridge/state); null before it said anything. */
  #bridge: Availability | null = null;

  constructor(onChange: () => void = () => {}) {
    this.#onChange = onChange;
  }

  /** Devices named by a list, in no particular order. */
  list(): DeviceEntry[] {
    return [...this.#entries.values()].filter((e) => e.meta !== null);
  }

  get(id: string): DeviceEntry | undefined {
    const entry = this.#entries.get(id);
    return entry?.meta ? entry : undefined;
  }

  /** What changed since the last call; resets it. */
  takeDirty(): Dirty {
    const dirty = this.#dirty;
    this.#dirty = { list: false, devices: new Set() };
    return dirty;
  }

  get bridge(): Availability | null {
    return this.#bridge;
  }

  setBridge(state: Availability): void {
    if (this.#bridge === state) return;
    this.#bridge = state;
    this.#onChange();
  }

  /** Marks every device changed, e.g. so relative times ("3 min ago") are redrawn. */
  touchAll(): void {
    for (const id of this.#entries.keys()) this.#dirty.devices.add(id);
    this.#onChange();
  }

  /**
   * Applies a devices list. The MQTT bridge's list is `authoritative` (devices missing from it are gone); the
   * API's snapshot only fills in until the first authoritative list arrived, and never replaces newer values.
   */
  setDevices(devices: readonly (BridgeDevice & { state?: DeviceStatePayload })[], authoritative: boolean): void {
    if (!authoritative && this.#haveList) {
      for (const d of devices) if (d.state && this.#entries.has(d.id)) this.applyState(d.id, d.state);
      return;
    }
    if (authoritative) {
      this.#haveList = true;
      const ids = new Set(devices.map((d) => d.id));
      for (const id of [...this.#entries.keys()]) {
        if (!ids.has(id)) {
          this.#entries.delete(id);
          this.#dirty.list = true;
        }
      }
    }
    for (const d of devices) {
      const { state, ...meta } = d;
      const entry = this.#entry(d.id);
      const before = entry.meta;
      if (!before || before.name !== meta.name || before.type !== meta.type || (before.room ?? null) !== (meta.room ?? null)) this.#dirty.list = true;
      if (!before || JSON.stringify(before) !== JSON.stringify(meta)) this.#dirty.devices.add(d.id);
      entry.meta = meta;
      entry.online = meta.online;
      if (meta.lastSeen !== null && (entry.lastSeen === null || meta.lastSeen > entry.lastSeen)) entry.lastSeen = meta.lastSeen;
      if (state) this.applyState(d.id, state);
    }
    this.#onChange();
  }

  /** Current values of a device; a metric keeps whichever value is newer. */
  applyState(id: string, state: DeviceStatePayload): void {
    const entry = this.#entry(id);
    const listening = this.events.has('point');
    let changed = false;
    for (const metric in state) {
      const next = state[metric]!;
      const prev = entry.state[metric];
      if (prev && next.ts < prev.ts) continue;
      if (prev && prev.ts === next.ts && prev.value === next.value) continue;
      entry.state[metric] = next;
      changed = true;
      if (listening && (!prev || next.ts > prev.ts)) this.events.emit('point', { device: id, metric, ts: next.ts, value: next.value });
    }
    if (changed) this.#markDevice(id);
  }

  applyAvailability(id: string, availability: Availability, now: number): void {
    const entry = this.#entry(id);
    const online = availability === 'online';
    if (entry.online === online) return;
    if (entry.online && !online) entry.lastSeen = Math.max(entry.lastSeen ?? 0, now);
    entry.online = online;
    this.#markDevice(id);
  }

  applyEvent(id: string, name: string, event: DeviceEventPayload): void {
    const entry = this.#entry(id);
    const prev = entry.events[name];
    if (!prev || event.ts >= prev.ts) {
      entry.events[name] = event;
      this.#markDevice(id);
    }
    this.events.emit('event', { device: id, name, event });
  }

  /** Stored events (newest first or not) as the latest of each name, without announcing them as new. */
  seedEvents(id: string, events: readonly { name: string; ts: number; value: JsonValue }[]): void {
    const entry = this.#entry(id);
    let changed = false;
    for (const e of events) {
      const prev = entry.events[e.name];
      if (prev && prev.ts >= e.ts) continue;
      entry.events[e.name] = { value: e.value, ts: e.ts };
      changed = true;
    }
    if (changed) this.#markDevice(id);
  }

  /** A command was sent: its control shows pending until the result, or until `now + waitMs`. */
  startCommand(id: string, command: string, value: JsonValue, now: number, waitMs = COMMAND_WAIT_MS): void {
    this.#entry(id).commands[command] = { status: 'pending', value, deadline: now + waitMs };
    this.#markDevice(id);
  }

  /** The hub's answer to a command; answers for commands this page did not send are passed on but not shown. */
  applyCommandResult(id: string, command: string, result: CommandResultPayload, now: number): void {
    const entry = this.#entries.get(id);
    const current = entry?.commands[command];
    if (entry && current?.status === 'pending') {
      entry.commands[command] =
        result.status === 'ok'
          ? { status: 'done', value: current.value, at: now }
          : { status: 'failed', value: current.value, reason: commandFailure(result), at: now };
      this.#markDevice(id);
    }
    this.events.emit('commandResult', { device: id, command, result });
  }

  /** A command could not even be sent (no connection, HTTP error). */
  failCommand(id: string, command: string, reason: string, now: number): void {
    const entry = this.#entry(id);
    const value = entry.commands[command]?.value ?? null;
    entry.commands[command] = { status: 'failed', value: value as JsonValue, reason, at: now };
    this.#markDevice(id);
  }

  /** Fails pending commands whose wait is over; returns the next deadline still pending, or null. */
  expireCommands(now: number): number | null {
    let next: number | null = null;
    for (const entry of this.#entries.values()) {
      for (const [command, state] of Object.entries(entry.commands)) {
        if (state.status !== 'pending') continue;
        if (state.deadline <= now) {
          entry.commands[command] = { status: 'failed', value: state.value, reason: 'no answer from the hub', at: now };
          this.#markDevice(entry.id);
        } else if (next === null || state.deadline < next) {
          next = state.deadline;
        }
      }
    }
    return next;
  }

  #entry(id: string): DeviceEntry {
    let entry = this.#entries.get(id);
    if (!entry) {
      entry = { id, meta: null, state: {}, online: false, lastSeen: null, events: {}, commands: {} };
      this.#entries.set(id, entry);
    }
    return entry;
  }

  #markDevice(id: string): void {
    this.#dirty.devices.add(id);
    this.#onChange();
  }
}

/** `failed: jammed`, `timeout`, `offline: device "x" is offline`. */
export function commandFailure(result: CommandResultPayload): string {
  return result.message ? `${result.status}: ${result.message}` : result.status;
}
