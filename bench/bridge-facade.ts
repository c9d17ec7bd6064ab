// The HubFacade the MQTT bridge benchmark drives: the hub's real DeviceRegistry and CommandService on a real
// HubStore in a temp directory, with no device gateway. commit() announces readings the way ingest does after
// a group commit, so the benchmark measures the bridge, not ingest.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Capability, Value } from '../protocol/types.js';
import { CommandService } from '../hub/devices/command-service.js';
import { DeviceRegistry } from '../hub/devices/device-registry.js';
import { EventBus, type CommandOutcome, type DeviceInfo } from '../hub/events.js';
import type { CurrentValue, DeviceFacade } from '../hub/facade.js';
import { HubStore } from '../hub/storage/hub-store.js';

/** The hub's real registry and command service behind a HubFacade, fed readings by commit(). */
export class BridgeFacade implements DeviceFacade {
  readonly bus = new EventBus();
  readonly #dir: string;
  readonly #store: HubStore;
  readonly #registry: DeviceRegistry;
  readonly #commands: CommandService;

  /** Opens a fresh database in a temp directory; close() deletes it. */
  constructor() {
    this.#dir = mkdtempSync(join(tmpdir(), 'hearth-bench-mqtt-'));
    this.#store = new HubStore({ path: join(this.#dir, 'hub.db') });
    this.#store.open();
    this.#registry = new DeviceRegistry(this.#store, this.bus);
    this.#registry.load();
    this.#commands = new CommandService({ registry: this.#registry, store: this.#store, bus: this.bus, timeoutMs: 10_000, now: Date.now });
  }

  /** Provisions a device and brings it online with `capabilities`, as its HELLO would; its commands go unanswered. */
  addDevice(id: string, type: string, capabilities: Capability[]): void {
    this.#registry.provision(id, id, type, Date.now());
    this.#registry.attach(id, { send: () => {}, fail: () => {} });
    this.#registry.greet(id, { type: 'hello', model: 'bench', firmware: '1.0.0', lastAckedSeq: 0, capabilities }, Date.now());
  }

  /** What ingest does after a commit: the registry takes the values, then the bus announces them. */
  commit(id: string, readings: { metric: string; value: Value; ts: number }[]): void {
    this.#registry.applyCommitted(id, readings, undefined);
    this.bus.emit('readings', { deviceId: id, readings });
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
    return this.#commands.send(deviceId, command, input, source);
  }

  close(): void {
    this.#commands.stop();
    this.#store.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
