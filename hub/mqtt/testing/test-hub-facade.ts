// Test support: the HubFacade the MQTT bridge's tests drive. It is the hub's real DeviceRegistry and
// CommandService on a real HubStore in a temp directory, so devices, current state and every command rule
// (unknown device, no writable capability, value checks, offline, result pairing) are the hub's own; only the
// device end is scripted, and the bus events a commit would bring are emitted on demand.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandFrame, CommandStatus, Frame, Value } from '../../../protocol/types.js';
import { CommandService } from '../../devices/command-service.js';
import { DeviceRegistry, type SessionHandle } from '../../devices/device-registry.js';
import { EventBus, type CommandOutcome, type DeviceInfo } from '../../events.js';
import type { CurrentValue, DeviceAdmin, DeviceChange, DeviceFacade, HubHealth } from '../../facade.js';
import { HubStore } from '../../storage/hub-store.js';

export interface SentCommand {
  deviceId: string;
  command: string;
  input: unknown;
  source: string;
}

/** What a connected device answers to a COMMAND it received; default ok. */
export type CommandScript = (received: { deviceId: string; command: CommandFrame }) => { status: CommandStatus; message: string };

/** The hub's real registry and command rules behind the HubFacade the bridge sees; devices answer by `script`. */
export class TestHubFacade implements DeviceFacade, DeviceAdmin {
  readonly bus = new EventBus();
  /** Every command the bridge asked for, before the hub's checks. */
  readonly sent: SentCommand[] = [];
  script: CommandScript = () => ({ status: 'ok', message: '' });
  readonly #dir = mkdtempSync(join(tmpdir(), 'hearth-mqtt-hub-'));
  readonly #store: HubStore;
  readonly #registry: DeviceRegistry;
  readonly #commands: CommandService;
  readonly #sessions = new Map<string, SessionHandle>();

  /** Opens its database at once, so a test can add devices before the bridge starts; close() deletes it. */
  constructor() {
    this.#store = new HubStore({ path: join(this.#dir, 'hub.db') });
    this.#store.open();
    this.#registry = new DeviceRegistry(this.#store, this.bus);
    this.#registry.load();
    this.#commands = new CommandService({ registry: this.#registry, store: this.#store, bus: this.bus, timeoutMs: 5000, now: Date.now });
  }

  devices(): DeviceInfo[] {
    return this.#registry.list();
  }

  device(id: string): DeviceInfo | undefined {
    return this.#registry.info(id);
  }

  currentState(id: string): Record<string, CurrentValue> {
    return this.#registry.currentState(id);
  }

  sendCommand(deviceId: string, command: string, input: unknown, source: string): Promise<CommandOutcome> {
    this.sent.push({ deviceId, command, input, source });
    return this.#commands.send(deviceId, command, input, source);
  }

  /** As the hub's Facade: the real registry's provisioning (token shown once). */
  provision(id: string, name: string, type: string): { device: DeviceInfo; token: string } {
    return this.#registry.provision(id, name, type, Date.now());
  }

  revoke(id: string): boolean {
    this.#sessions.delete(id);
    return this.#registry.revoke(id, Date.now());
  }

  rename(id: string, change: DeviceChange): DeviceInfo | undefined {
    return this.#registry.rename(id, change);
  }

  remove(id: string): boolean {
    this.#sessions.delete(id);
    return this.#registry.remove(id);
  }

  /** Storage 'failing' when a test sets storageFailing (the hub's is the ingest's faulted flag). */
  storageFailing = false;

  health(): HubHealth {
    return { ok: !this.storageFailing, storage: this.storageFailing ? 'failing' : 'ok', devicesOnline: this.#registry.onlineCount };
  }

  /**
   * Provisions the device if new, then connects it and greets with its model, firmware and capabilities (as
   * its HELLO would: device.updated if they changed, availability), and disconnects it again unless `online`.
   */
  upsertDevice(device: DeviceInfo): void {
    if (!this.#registry.has(device.id)) this.#registry.provision(device.id, device.name, device.type, device.createdAt);
    this.#greet(device.id, device);
    if (!device.online) this.setOnline(device.id, false);
  }

  /** Revokes and removes a device (availability offline if it was online, then device.removed). */
  removeDevice(id: string): void {
    this.#registry.revoke(id, Date.now());
    this.#sessions.delete(id);
  }

  /** Connects the device again (a HELLO with what it declared before) or disconnects it. */
  setOnline(id: string, online: boolean): void {
    const info = this.#registry.info(id);
    if (!info) throw new Error(`no device ${id}`);
    if (online) return this.#greet(id, info);
    const session = this.#sessions.get(id);
    if (session) this.#registry.detach(id, session);
    this.#sessions.delete(id);
  }

  /** What ingest does after a commit: the registry takes the values, then the bus hears of them. */
  pushReadings(id: string, readings: { metric: string; value: Value; ts: number }[]): void {
    this.#registry.applyCommitted(id, readings, undefined);
    this.bus.emit('readings', { deviceId: id, readings });
  }

  /** Events a commit would announce. */
  pushEvents(id: string, events: { name: string; value: Value; ts: number }[]): void {
    this.bus.emit('event', { deviceId: id, events });
  }

  /** Answers waiting commands offline, closes and deletes the database. */
  close(): void {
    this.#commands.stop();
    this.#store.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #greet(id: string, device: Pick<DeviceInfo, 'model' | 'firmware' | 'capabilities'>): void {
    const session: SessionHandle = {
      send: (frame: Frame) => {
        if (frame.type !== 'command') return;
        const answer = this.script({ deviceId: id, command: frame });
        // The device answers on a later turn, as over a socket.
        queueMicrotask(() => this.#commands.onResult(id, { type: 'command_result', id: frame.id, ...answer }));
      },
      fail: () => {
        if (this.#sessions.get(id) === session) this.#sessions.delete(id);
      },
    };
    this.#sessions.set(id, session);
    this.#registry.attach(id, session);
    this.#registry.greet(id, { type: 'hello', model: device.model, firmware: device.firmware, lastAckedSeq: 0, capabilities: device.capabilities }, Date.now());
  }
}
