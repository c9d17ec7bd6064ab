import type { CommandOutcome, DeviceInfo, EventBus } from './events.js';
import type { JsonValue } from '../protocol/value-form.js';

/** Current value of one metric, as the API and MQTT show it. */
export interface CurrentValue {
  value: JsonValue;
  ts: number;
}

/**
 * What the parts around the device gateway (MQTT bridge, HTTP API, dashboard) may ask of the hub.
 * They never see frames, sockets or SQL.
 */
export interface HubFacade {
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
}
