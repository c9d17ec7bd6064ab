// Shapes of the hub's HTTP API answers the dashboard reads (docs/api.md). Device metadata is the MQTT
// bridge's BridgeDevice, which the API's device objects extend.
import type { BridgeDevice, DeviceStatePayload } from '../../hub/mqtt/topics.js';
import type { JsonValue } from '../../protocol/value-form.js';
import type { Role } from '../../hub/users/user-store.js';
import type { Value } from '../../protocol/types.js';

export type { Role };

/** POST /api/session. */
export interface SignInAnswer {
  token: string;
  role: Role;
  username: string;
  expiresAt: number;
}

/** GET /api/session. */
export interface SessionAnswer {
  username: string;
  role: Role;
  expiresAt: number;
}

/** One device of GET /api/devices, with its current values. */
export interface ApiDevice extends BridgeDevice {
  state: DeviceStatePayload;
}

// History points in JSON form, as the API answers them (pointToJson).
import type { HistoryStep } from '../../hub/storage/types.js';
import type { JsonPoint as HistoryPoint } from '../../protocol/value-form.js';
export type { HistoryPoint, HistoryStep };

export interface HistoryAnswer {
  device: string;
  metric: string;
  unit: string;
  from: number;
  to: number;
  step: HistoryStep;
  truncated: boolean;
  points: HistoryPoint[];
}

export interface ApiEvent {
  name: string;
  ts: number;
  value: JsonValue;
}

/** One entry of GET /api/devices/:id/commands: the store's command log entry. */
export type { CommandLogEntry as ApiCommand } from '../../hub/storage/types.js';

/** GET /api/hub; fields the dashboard does not know are ignored, optional ones may be missing. */
export interface HubInfo {
  version?: string;
  uptimeMs?: number;
  devices?: { total?: number; online?: number; connections?: number };
  ingest?: { readingsCommitted?: number; readingsAccepted?: number; eventsCommitted?: number; pendingReadings?: number };
  storage?: { bytes?: number; storedReadings?: number };
  tls?: { sha256?: string; certificate?: string };
  mqtt?: { clients?: number; baseTopic?: string };
}
