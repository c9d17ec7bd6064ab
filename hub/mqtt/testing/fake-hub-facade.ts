// A HubFacade for tests and benchmarks of the MQTT bridge: an EventBus, a Map of devices and a scripted
// sendCommand, so the bridge is exercised without the device gateway.
import type { Capability, Value } from '../../../protocol/types.js';
import { EventBus, type CommandOutcome, type CommandOutcomeStatus, type DeviceInfo } from '../../events.js';
import type { CurrentValue, DeviceFacade } from '../../facade.js';
import { valueFromJson, valueToJson } from '../../../protocol/value-form.js';

export interface SentCommand {
  deviceId: string;
  command: string;
  input: unknown;
  source: string;
}

/** What the device "answers" to a valid command; default ok. */
export type CommandScript = (cmd: SentCommand) => { status: CommandOutcomeStatus; message: string };

export class FakeHubFacade implements DeviceFacade {
  readonly bus = new EventBus();
  readonly #devices = new Map<string, DeviceInfo>();
  readonly #state = new Map<string, Record<string, CurrentValue>>();
  readonly sent: SentCommand[] = [];
  script: CommandScript = () => ({ status: 'ok', message: '' });
  #nextId = 1;

  devices(): DeviceInfo[] {
    return [...this.#devices.values()];
  }

  device(id: string): DeviceInfo | undefined {
    return this.#devices.get(id);
  }

  currentState(id: string): Record<string, CurrentValue> {
    return { ...(this.#state.get(id) ?? {}) };
  }

  /** Like the real hub: offline and invalid input are answered without reaching a device. */
  async sendCommand(deviceId: string, command: string, input: unknown, source: string): Promise<CommandOutcome> {
    const sent = { deviceId, command, input, source };
    this.sent.push(sent);
    const commandId = this.#nextId++;
    const outcome = (status: CommandOutcomeStatus, message: string): CommandOutcome => ({ commandId, deviceId, command, status, message });
    const device = this.#devices.get(deviceId);
    if (!device) return outcome('invalid', `unknown device ${deviceId}`);
    const cap = device.capabilities.find((c) => c.name === command);
    if (!cap || !cap.writable) return outcome('invalid', `${deviceId} has no writable capability ${command}`);
    const parsed = valueFromJson(cap, input);
    if (!parsed.ok) return outcome('invalid', parsed.problem);
    if (!device.online) return outcome('offline', `${deviceId} is offline`);
    const answer = this.script(sent);
    return outcome(answer.status, answer.message);
  }

  /** Adds or replaces a device (emits device.updated). */
  upsertDevice(device: DeviceInfo): void {
    this.#devices.set(device.id, device);
    this.bus.emit('device.updated', { device });
  }

  /** Removes a device (emits device.removed). */
  removeDevice(id: string): void {
    this.#devices.delete(id);
    this.#state.delete(id);
    this.bus.emit('device.removed', { deviceId: id });
  }

  /** Flips a device's availability (emits availability). */
  setOnline(id: string, online: boolean): void {
    const device = this.#devices.get(id);
    if (!device) throw new Error(`no device ${id}`);
    const next = { ...device, online, lastSeen: online ? Date.now() : device.lastSeen };
    this.#devices.set(id, next);
    this.bus.emit('availability', { device: next, online });
  }

  /** "Commits" readings: updates current state, then emits readings. */
  pushReadings(id: string, readings: { metric: string; value: Value; ts: number }[]): void {
    const device = this.#devices.get(id);
    const state = this.#state.get(id) ?? {};
    for (const r of readings) {
      const cap = device?.capabilities.find((c) => c.name === r.metric);
      const prev = state[r.metric];
      if (!prev || prev.ts <= r.ts) state[r.metric] = { value: valueToJson(cap, r.value), ts: r.ts };
    }
    this.#state.set(id, state);
    this.bus.emit('readings', { deviceId: id, readings });
  }

  /** "Commits" events and emits them. */
  pushEvents(id: string, events: { name: string; value: Value; ts: number }[]): void {
    this.bus.emit('event', { deviceId: id, events });
  }
}

/** A capability with defaults for the fields a test does not care about. */
export function cap(partial: Partial<Capability> & Pick<Capability, 'name' | 'valueType'>): Capability {
  return { id: 0, unit: '', deviceClass: '', writable: false, event: false, ...partial };
}

/** A device with defaults; capability ids are numbered in order. */
export function device(partial: Partial<DeviceInfo> & Pick<DeviceInfo, 'id'>): DeviceInfo {
  const capabilities = (partial.capabilities ?? []).map((c, i) => ({ ...c, id: i + 1 }));
  return {
    name: partial.id,
    type: 'sensor',
    model: 'test-model',
    firmware: '1.0.0',
    online: false,
    lastSeen: null,
    createdAt: 0,
    ...partial,
    capabilities,
  };
}

/** Capabilities of a typical thermostat, lamp and motion sensor, for tests and benchmarks. */
export const SAMPLE_CAPS = {
  temperature: cap({ name: 'temperature', valueType: 'float', unit: '°C', deviceClass: 'temperature' }),
  setpoint: cap({ name: 'setpoint', valueType: 'float', unit: '°C', deviceClass: 'temperature', writable: true, min: 5, max: 30 }),
  on: cap({ name: 'on', valueType: 'bool', writable: true }),
  brightness: cap({ name: 'brightness', valueType: 'int', unit: '%', writable: true, min: 0, max: 100 }),
  motion: cap({ name: 'motion', valueType: 'bool', deviceClass: 'motion' }),
  energy: cap({ name: 'energy', valueType: 'float', unit: 'kWh', deviceClass: 'energy' }),
  mode: cap({ name: 'mode', valueType: 'enum', options: ['eco', 'comfort', 'away'], writable: true }),
  status: cap({ name: 'status', valueType: 'enum', options: ['idle', 'heating'] }),
  label: cap({ name: 'label', valueType: 'string', writable: true }),
  button: cap({ name: 'button', valueType: 'enum', options: ['single', 'double', 'long'], event: true, deviceClass: 'button' }),
} satisfies Record<string, Capability>;
