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
import { pino } from 'pino';
import { EventBus, type CommandOutcome, type DeviceInfo } from '../../events.js';
import { Facade, type FacadeParts, type HubHealth } from '../../facade.js';
import type { HubInfoResponse } from '../../http/api-types.js';
import { IngestPipeline } from '../../ingest/ingest-pipeline.js';
import { HubStore } from '../../storage/hub-store.js';
import type { MaybePromise } from '../../storage/store-contract.js';

export interface SentCommand {
  deviceId: string;
  command: string;
  input: unknown;
  source: string;
}

/** What a connected device answers to a COMMAND it received; default ok. */
export type CommandScript = (received: { deviceId: string; command: CommandFrame }) => { status: CommandStatus; message: string };

/** The hub's real Facade (registry and command rules) as the bridge sees it, without a gateway; devices answer by `script`. */
export class TestHubFacade extends Facade {
  /** Every command the bridge asked for, before the hub's checks. */
  readonly sent: SentCommand[] = [];
  script: CommandScript = () => ({ status: 'ok', message: '' });
  readonly #dir: string;
  readonly #store: HubStore;
  readonly #registry: DeviceRegistry;
  readonly #commands: CommandService;
  readonly #sessions = new Map<string, SessionHandle>();

  /**
   * Opens its database at once, so a test can add devices before the bridge starts; close() deletes it.
   * `cluster`: how one hub of several shows each device (online, holder), as HubCluster.view().
   */
  constructor(cluster?: FacadeParts['cluster']) {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-mqtt-hub-'));
    const store = new HubStore({ path: join(dir, 'hub.db') });
    store.open();
    const bus = new EventBus();
    const registry = new DeviceRegistry(store, bus);
    registry.load();
    const commands = new CommandService({ registry, store, bus, timeoutMs: 5000, now: Date.now });
    const ingest = new IngestPipeline(store, registry, bus, { commitIntervalMs: 0, commitMaxReadings: 4000, maxPendingReadings: 200_000, now: Date.now, log: pino({ level: 'silent' }), onPressure: () => {} });
    super({ bus, registry, commands, store, ingest, now: Date.now, info: () => ({}) as HubInfoResponse, ...(cluster ? { cluster } : {}) });
    [this.#dir, this.#store, this.#registry, this.#commands] = [dir, store, registry, commands];
  }

  override sendCommand(deviceId: string, command: string, input: unknown, source: string): Promise<CommandOutcome> {
    this.sent.push({ deviceId, command, input, source });
    return super.sendCommand(deviceId, command, input, source);
  }

  /** The Facade's revoke; the scripted device's session goes with it. */
  override revoke(id: string): MaybePromise<boolean> {
    this.#sessions.delete(id);
    return super.revoke(id);
  }

  override remove(id: string): MaybePromise<boolean> {
    this.#sessions.delete(id);
    return super.remove(id);
  }

  /** Storage 'failing' when a test sets storageFailing (the hub's is the ingest's faulted flag). */
  storageFailing = false;

  override health(): HubHealth {
    return { ...super.health(), ok: !this.storageFailing, storage: this.storageFailing ? 'failing' : 'ok' };
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

  #greet(id: string, device: Pick<DeviceInfo, 'model' | 'firmware' | 'capabilities' | 'updatable'>): void {
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
    const hello = { type: 'hello', model: device.model, firmware: device.firmware, lastAckedSeq: 0, capabilities: device.capabilities } as const;
    this.#registry.greet(id, device.updatable === true ? { ...hello, updates: true } : hello, Date.now());
  }
}
