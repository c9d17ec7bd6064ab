import type { CommandService } from './devices/command-service.js';
import type { DeviceRegistry } from './devices/device-registry.js';
import type { CommandOutcome, DeviceInfo, EventBus } from './events.js';
import type { FirmwareControl } from './firmware/firmware-control.js';
import type { HubInfoResponse } from './http/api-types.js';
import type { IngestPipeline, StorageFault } from './ingest/ingest-pipeline.js';
import type { HubStoreContract, MaybePromise } from './storage/store-contract.js';
import type { CommandLogEntry, HistoryPoint, HistoryQuery, StoredEvent } from './storage/types.js';
import type { JsonValue } from '../protocol/value-form.js';

/** Current value of one metric, as the API and MQTT show it. */
export interface CurrentValue {
  value: JsonValue;
  ts: number;
}

/** Whether the hub takes writes and serves its broker: /api/health, /readyz. */
export interface HubHealth {
  ok: boolean;
  storage: 'ok' | 'failing';
  devicesOnline: number;
  /** The storage fault in progress (cause, last error, since, failures); absent while commits succeed. */
  fault?: StorageFault;
  /** While the ingest journal's drains fail: readings acknowledged and safe in the journal, not yet in the database. */
  undrainedReadings?: number;
}

/**
 * What the MQTT bridge asks of the hub: devices, their current state, commands, and the bus of committed facts.
 * It never sees frames, sockets or SQL.
 */
export interface DeviceFacade {
  readonly bus: EventBus;
  /** Every provisioned, non-revoked device. */
  devices(): DeviceInfo[];
  device(id: string): DeviceInfo | undefined;
  /** Latest committed value of each metric of a device, by metric name. */
  currentState(id: string): Record<string, CurrentValue>;
  /**
   * Validates `input` against the device's writable capability `command`, sends a COMMAND and resolves
   * with the device's result, or 'offline' / 'timeout' / 'invalid' (with a message naming the problem).
   */
  sendCommand(deviceId: string, command: string, input: unknown, source: string): Promise<CommandOutcome>;
  /** Firmware images and updates [FP-14] (answers at once on SQLite, Promises on PostgreSQL); absent in a hub without them. */
  readonly firmware?: FirmwareControl;
}

/** A change of a device's labels: PATCH /api/devices/:id and the MQTT request device/rename. */
export interface DeviceChange {
  name?: string;
  /** null clears the room. */
  room?: string | null;
}

/** Names and rooms are 1-64 characters, as the devices table's CHECKs allow; shown in HA and the dashboard. */
const MAX_LABEL = 64;

/** Reads a DeviceChange from a JSON body, or the problem with it (for a 400 or an MQTT error response). */
export function parseDeviceChange(body: Record<string, unknown>): { ok: true; change: DeviceChange } | { ok: false; problem: string } {
  const change: DeviceChange = {};
  const label = (v: unknown) => typeof v === 'string' && v.trim() !== '' && v.length <= MAX_LABEL;
  if (body['name'] !== undefined) {
    if (!label(body['name'])) return { ok: false, problem: `name must be a non-blank string of at most ${MAX_LABEL} characters` };
    change.name = body['name'] as string;
  }
  if (body['room'] !== undefined) {
    if (body['room'] !== null && !label(body['room'])) return { ok: false, problem: `room must be null or a non-blank string of at most ${MAX_LABEL} characters` };
    change.room = body['room'] as string | null;
  }
  if (change.name === undefined && change.room === undefined) return { ok: false, problem: 'give name, room or both' };
  return { ok: true, change };
}

/** What the MQTT bridge API (`<base>/bridge/request/...`) asks of the hub beyond the DeviceFacade. */
export type DeviceAdmin = Pick<HubFacade, 'provision' | 'revoke' | 'rename' | 'remove' | 'health'>;

/** The one facade of a running hub, handed to the HTTP API and (as a DeviceFacade) the MQTT bridge. */
export interface HubFacade extends DeviceFacade {
  /** Creates a device; its token is answered once. Throws code HUB_ERR_DEVICE_EXISTS for a taken id. */
  provision(id: string, name: string, type: string): MaybePromise<{ device: DeviceInfo; token: string }>;
  /** Revokes a device (its connection closes with 4010); false when there was none. */
  revoke(id: string): MaybePromise<boolean>;
  /** Sets name and/or room (checked by parseDeviceChange) and emits device.updated; undefined for an unknown device. */
  rename(id: string, change: DeviceChange): MaybePromise<DeviceInfo | undefined>;
  /** Deletes a device and all it stored (its connection closes with 4010); false when there was none. */
  remove(id: string): MaybePromise<boolean>;
  /** Stored readings of one metric (raw points or rollup buckets). */
  history(q: HistoryQuery): MaybePromise<HistoryPoint[]>;
  events(deviceId: string, from: number, to: number, limit: number): MaybePromise<StoredEvent[]>;
  /** The newest `limit` commands sent to a device, newest first. */
  commandLog(deviceId: string, limit: number): MaybePromise<CommandLogEntry[]>;
  health(): HubHealth;
  /** The hub's own state for GET /api/hub: version, uptime, devices, ingest, storage, MQTT, TLS. */
  hubInfo(): HubInfoResponse;
}

/** The facade's sources. */
export interface FacadeParts {
  bus: EventBus;
  registry: DeviceRegistry;
  commands: CommandService;
  store: Pick<HubStoreContract, 'history' | 'events' | 'commands'>;
  ingest: IngestPipeline;
  now: () => number;
  /** GET /api/hub (hub/observability/hub-status.ts). */
  info: () => HubInfoResponse;
  firmware?: FirmwareControl;
  /** Several hubs on PostgreSQL: every device as this hub and the others have it (online, holder). */
  cluster?: { view(info: DeviceInfo): DeviceInfo };
  /** SQLite with the ingest journal: why its drains fail, and what waits (HubStore.journalFault, journalStats). */
  journal?: { fault(): StorageFault | undefined; readings(): number };
}

/** The one HubFacade of a running hub: the device registry, the command service and the store's queries. */
export class Facade implements HubFacade {
  readonly bus: EventBus;
  readonly #p: FacadeParts;
  readonly firmware: FirmwareControl | undefined;

  constructor(parts: FacadeParts) {
    this.#p = parts;
    this.bus = parts.bus;
    this.firmware = parts.firmware;
  }

  devices(): DeviceInfo[] {
    const list = this.#p.registry.list();
    const cluster = this.#p.cluster;
    return cluster ? list.map((d) => cluster.view(d)) : list;
  }

  device(id: string): DeviceInfo | undefined {
    const info = this.#p.registry.info(id);
    return info && this.#p.cluster ? this.#p.cluster.view(info) : info;
  }

  currentState(id: string): Record<string, CurrentValue> {
    return this.#p.registry.currentState(id);
  }

  sendCommand(deviceId: string, command: string, input: unknown, source: string): Promise<CommandOutcome> {
    return this.#p.commands.send(deviceId, command, input, source);
  }

  provision(id: string, name: string, type: string): MaybePromise<{ device: DeviceInfo; token: string }> {
    return this.#p.registry.provision(id, name, type, this.#p.now());
  }

  revoke(id: string): MaybePromise<boolean> {
    return this.#p.registry.revoke(id, this.#p.now());
  }

  rename(id: string, change: DeviceChange): MaybePromise<DeviceInfo | undefined> {
    return this.#p.registry.rename(id, change);
  }

  remove(id: string): MaybePromise<boolean> {
    return this.#p.registry.remove(id);
  }

  history(q: HistoryQuery): MaybePromise<HistoryPoint[]> {
    return this.#p.store.history(q);
  }

  events(deviceId: string, from: number, to: number, limit: number): MaybePromise<StoredEvent[]> {
    return this.#p.store.events(deviceId, from, to, limit);
  }

  commandLog(deviceId: string, limit: number): MaybePromise<CommandLogEntry[]> {
    return this.#p.store.commands(deviceId, limit);
  }

  health(): HubHealth {
    const devicesOnline = this.#p.registry.onlineCount;
    const fault = this.#p.ingest.fault;
    if (fault) return { ok: false, storage: 'failing', devicesOnline, fault: { ...fault } };
    // Devices are still acknowledged, but the database takes none of it: history and latest values go stale.
    const journal = this.#p.journal;
    const drain = journal?.fault();
    if (drain) return { ok: false, storage: 'failing', devicesOnline, fault: drain, undrainedReadings: journal!.readings() };
    return { ok: true, storage: 'ok', devicesOnline };
  }

  hubInfo(): HubInfoResponse {
    return this.#p.info();
  }
}
