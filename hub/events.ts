import { TypedEmitter } from '../protocol/typed-emitter.js';
import type { Capability, CommandStatus, Value } from '../protocol/types.js';
import type { FirmwareUpdateStatus } from './firmware/update-status.js';

/** What the hub knows of one device, as the API, the MQTT bridge and the dashboard see it. */
export interface DeviceInfo {
  id: string;
  name: string;
  /** Free-form kind given at provisioning ('thermostat', 'light', ...). */
  type: string;
  /** Model and firmware from the device's last HELLO; '' before the first. */
  model: string;
  firmware: string;
  capabilities: Capability[];
  online: boolean;
  /** Milliseconds since the epoch of the last frame received, null if never connected. */
  lastSeen: number | null;
  createdAt: number;
  /** Where the device is (Home Assistant's area); null until set. */
  room: string | null;
  /** Its last HELLO set UPDATES: it accepts firmware updates [FP-14.1]; absent otherwise. */
  updatable?: boolean;
  /** Several hubs on PostgreSQL: the id of the hub that has it connected, null when none; absent on one hub. */
  hub?: string | null;
}

/** A reading durably committed, with its metric resolved to the declared capability name. */
export interface CommittedReading {
  metric: string;
  /** Milliseconds since the epoch (device clock, or hub clock when the device had none). */
  ts: number;
  value: Value;
}

export interface CommittedEvent {
  name: string;
  ts: number;
  value: Value;
}

/** How a command ended: the device's own status, or the hub's when the device never answered. */
export type CommandOutcomeStatus = CommandStatus | 'offline' | 'timeout';

export interface CommandOutcome {
  commandId: number;
  deviceId: string;
  command: string;
  status: CommandOutcomeStatus;
  message: string;
}

/** The hub's one typed event map. Payloads describe committed facts only. */
export interface HubEvents {
  /** Readings of one device, after the transaction that stored them committed. */
  readings: { deviceId: string; readings: CommittedReading[] };
  /** Events of one device, after they committed. */
  event: { deviceId: string; events: CommittedEvent[] };
  /** A device finished its greeting (online) or its connection ended (offline). */
  availability: { device: DeviceInfo; online: boolean };
  /** Provisioned, or its declared capabilities, model, name or room changed. */
  'device.updated': { device: DeviceInfo };
  /** Revoked and removed. */
  /** Its last info comes along: the retained topics of a device no hub published here can still be cleared. */
  'device.removed': { deviceId: string; device: DeviceInfo };
  'command.result': CommandOutcome;
  /** A firmware update was queued or changed state or percent, after it was saved [FP-14]. */
  'firmware.update': FirmwareUpdateStatus;
}

/**
 * The hub's bus: the shared TypedEmitter over HubEvents. A throwing listener does not keep the others (or the
 * emitting part, such as ingest after a commit) from running; its error is rethrown from a microtask.
 */
export class EventBus extends TypedEmitter<HubEvents> {}
