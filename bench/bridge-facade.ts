// The HubFacade the MQTT bridge benchmark drives: the hub's real DeviceRegistry and CommandService on a real
// HubStore in a temp directory, with no device gateway. commit() announces readings the way ingest does after
// a group commit, so the benchmark measures the bridge, not ingest.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Capability, Value } from '../protocol/types.js';
import { CommandService } from '../hub/devices/command-service.js';
import { DeviceRegistry } from '../hub/devices/device-registry.js';
import { pino } from 'pino';
import { EventBus } from '../hub/events.js';
import { Facade } from '../hub/facade.js';
import type { HubInfoResponse } from '../hub/http/api-types.js';
import { IngestPipeline } from '../hub/ingest/ingest-pipeline.js';
import { HubStore } from '../hub/storage/hub-store.js';

/** The hub's real Facade (registry and command service) without a device gateway, fed readings by commit(). */
export class BridgeFacade extends Facade {
  readonly #dir: string;
  readonly #store: HubStore;
  readonly #registry: DeviceRegistry;
  readonly #commands: CommandService;

  /** Opens a fresh database in a temp directory; close() deletes it. */
  constructor() {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-mqtt-'));
    const store = new HubStore({ path: join(dir, 'hub.db') });
    store.open();
    const bus = new EventBus();
    const registry = new DeviceRegistry(store, bus);
    registry.load();
    const commands = new CommandService({ registry, store, bus, timeoutMs: 10_000, now: Date.now });
    const ingest = new IngestPipeline(store, registry, bus, { commitIntervalMs: 0, commitMaxReadings: 4000, maxPendingReadings: 200_000, now: Date.now, log: pino({ level: 'silent' }), onPressure: () => {} });
    super({ bus, registry, commands, store, ingest, now: Date.now, info: () => ({}) as HubInfoResponse });
    [this.#dir, this.#store, this.#registry, this.#commands] = [dir, store, registry, commands];
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

  close(): void {
    this.#commands.stop();
    this.#store.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
