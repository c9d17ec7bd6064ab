// The HTTP API's contract (docs/api.md): the request and response bodies of every /api endpoint, shared by
// the hub (hub/http/api.ts and sessions.ts type what they send with it) and the dashboard (api-client.ts).
// Its own types on purpose: storage rows and MQTT payloads may change without changing what the API answers,
// so this file imports only the protocol (values in their JSON form [FP-5.1] come from value-form.ts).
import type { Capability, CommandStatus, Value } from '../../protocol/types.js';
import type { JsonPoint, JsonValue } from '../../protocol/value-form.js';

/** Who may do what (docs/api.md); the same union as the user store's Role, which a test checks. */
export type ApiRole = 'admin' | 'integration' | 'viewer';

/** Every error answer: a stable code (HUB_ERR_...) and a message naming the problem. */
export interface ApiErrorResponse {
  error: string;
  message: string;
  /** HUB_ERR_STORAGE: what storage failed with (busy, full, readonly, cantopen, ioerr, closed, unreachable). */
  cause?: string;
}

// ---- /api/session ---------------------------------------------------------------------------------

/** POST /api/session, as JSON. */
export interface SignInRequest {
  username: string;
  password: string;
}

/** POST /api/session: 200. */
export interface SignInResponse {
  token: string;
  role: ApiRole;
  username: string;
  expiresAt: number;
}

/** GET /api/session: 200. */
export interface SessionResponse {
  username: string;
  role: ApiRole;
  expiresAt: number;
}

/** DELETE /api/session: 200; false when the session had already ended. */
export interface SignOutResponse {
  revoked: boolean;
}

// ---- the hub ----------------------------------------------------------------------------------------

/** GET /api/health: 200 when ok, 503 when degraded (SQLite writes failing: commits, or the ingest journal's drains). */
export interface HealthResponse {
  status: 'ok' | 'degraded';
  storage: 'ok' | 'failing';
  devicesOnline: number;
  /** While storage fails: why (the `cause` of hearth_commit_failures_total), the last error, since when (ms), how many failures. */
  fault?: StorageFaultInfo;
  /** While the ingest journal's drains fail (`fault` says why): readings acknowledged and kept in the journal, not yet in the database. */
  undrainedReadings?: number;
}

/** A storage fault in progress, as /api/health reports it. */
export interface StorageFaultInfo {
  cause: 'busy' | 'full' | 'readonly' | 'cantopen' | 'ioerr' | 'closed' | 'unreachable' | 'other';
  message: string;
  since: number;
  failures: number;
}

/** Ingest counters of GET /api/hub; the ones the dashboard reads are named. */
export interface ApiIngestStats {
  readingsAccepted: number;
  readingsCommitted: number;
  eventsCommitted: number;
  pendingReadings: number;
  [counter: string]: number | boolean;
}

/** GET /api/hub: 200. */
export interface HubInfoResponse {
  /** The hub's `hub.id` (several hubs of one installation tell themselves apart by it). */
  hubId: string;
  version: string;
  uptimeMs: number;
  devices: { total: number; online: number; connections: number };
  ingest: ApiIngestStats;
  /** Frames refused since start, by error code. */
  refused: Record<string, number>;
  storage: {
    bytes: number;
    pendingLogRows: number;
    chunks: number;
    storedReadings: number;
    /** SQLite with `ingest.journal`: what waits in the ingest journal, and why the last drain failed. */
    journal?: { readings: number; records: number; bytes: number; drainError: string | null };
    compaction: Record<string, unknown> | null;
  };
  /** null when MQTT is off; listener addresses come with the counters. */
  mqtt: { baseTopic: string; clients: number; messages: number; streamDropped: number; [address: string]: unknown } | null;
  tls: { sha256: string; certificate: string };
  /** Several hubs on PostgreSQL: every hub of the installation, alive (beating) or not; absent on SQLite. */
  hubs?: Array<{ id: string; alive: boolean; seenAt: number }>;
}

// ---- devices ----------------------------------------------------------------------------------------

/** A capability as the device declared it in HELLO [FP-6.1]. */
export type ApiCapability = Capability;

/** A provisioned device. */
export interface ApiDeviceInfo {
  id: string;
  name: string;
  type: string;
  /** From the device's last HELLO; '' before the first. */
  model: string;
  firmware: string;
  capabilities: ApiCapability[];
  online: boolean;
  /** Milliseconds since the epoch of the last frame, null if never connected. */
  lastSeen: number | null;
  createdAt: number;
  /** Where the device is (Home Assistant's area); null until set. */
  room: string | null;
  /** Its last HELLO set UPDATES: it accepts firmware updates [FP-14.1]; absent otherwise. */
  updatable?: boolean;
  /** Several hubs on PostgreSQL: the hub that has it connected, null when none; absent on one hub on SQLite. */
  hub?: string | null;
}

/** The current value of one metric, in its JSON form [FP-5.1]. */
export interface ApiMetricState {
  value: JsonValue;
  ts: number;
}

/** A device with its current values, by metric name. */
export interface ApiDevice extends ApiDeviceInfo {
  state: Record<string, ApiMetricState>;
}

/** PATCH /api/devices/:id (admin), as JSON: at least one field; room null clears it. */
export interface DevicePatchRequest {
  name?: string;
  room?: string | null;
}

/** PATCH /api/devices/:id: 200 with the device as it is now. */
export interface DevicePatchResponse {
  device: ApiDevice;
}

/** GET /api/devices: 200. */
export interface DevicesResponse {
  devices: ApiDevice[];
}

/** GET /api/devices/:id: 200. */
export interface DeviceResponse {
  device: ApiDevice;
}

/** POST /api/devices (admin). */
export interface ProvisionRequest {
  id: string;
  name?: string;
  type?: string;
}

/** POST /api/devices: 201; the token is shown this once. */
export interface ProvisionResponse {
  device: ApiDeviceInfo;
  token: string;
}

/** DELETE /api/devices/:id (admin): 200. */
export interface RevokeResponse {
  revoked: string;
}

// ---- history and events -----------------------------------------------------------------------------

export type ApiHistoryStep = 'raw' | 'minute' | 'hour';

/** GET /api/devices/:id/history query; times as milliseconds since the epoch or ISO 8601 dates. */
export interface HistoryRequest {
  metric: string;
  from?: number | string;
  to?: number | string;
  step?: ApiHistoryStep | 'auto';
  limit?: number;
}

/** A raw point {ts, value} or a rollup bucket {ts, min, max, mean, count}, in JSON form (see JsonPoint). */
export type ApiHistoryPoint = JsonPoint;

/** GET /api/devices/:id/history: 200. */
export interface HistoryResponse {
  device: string;
  metric: string;
  unit: string;
  from: number;
  to: number;
  step: ApiHistoryStep;
  limit: number;
  truncated: boolean;
  points: ApiHistoryPoint[];
}

/** GET /api/devices/:id/events query. */
export interface EventsRequest {
  from?: number | string;
  to?: number | string;
  limit?: number;
}

/** One event, its value in JSON form [FP-5.1]. */
export interface ApiEvent {
  name: string;
  ts: number;
  value: JsonValue;
}

/** GET /api/devices/:id/events: 200. */
export interface EventsResponse {
  device: string;
  events: ApiEvent[];
}

// ---- commands ---------------------------------------------------------------------------------------

/** How a command ended: the device's status [FP-6.7], or the hub's when the device never answered. */
export type ApiCommandStatus = CommandStatus | 'offline' | 'timeout';

/** GET /api/devices/:id/commands query. */
export interface CommandsRequest {
  limit?: number;
}

/** One entry of the command log; `value` is the typed value sent [FP-5.2], status null while pending. */
export interface ApiCommandLogEntry {
  id: number;
  deviceId: string;
  command: string;
  value: Value;
  source: string;
  sentAt: number;
  status: string | null;
  message: string | null;
  finishedAt: number | null;
}

/** GET /api/devices/:id/commands: 200, newest first. */
export interface CommandsResponse {
  device: string;
  commands: ApiCommandLogEntry[];
}

/** POST /api/devices/:id/commands (admin, integration); the value is checked against the capability. */
export interface CommandRequest {
  command: string;
  value: JsonValue;
}

/** POST /api/devices/:id/commands: the outcome, with the HTTP status docs/api.md tables for it. */
export interface CommandResponse {
  /** 0 when the hub refused the command before sending it. */
  commandId: number;
  deviceId: string;
  command: string;
  status: ApiCommandStatus;
  message: string;
}

/** DELETE /api/devices/:id?remove=true (admin): 200; the device and everything stored for it are deleted. */
export interface DeviceRemoveResponse {
  removed: string;
}

// ---- users (hub/http/users-api.ts) --------------------------------------------------------------

/** A dashboard and MQTT user; never the password hash. */
export interface ApiUser {
  name: string;
  role: ApiRole;
  createdAt: number;
}

/** GET /api/users (admin): 200, sorted by name. */
export interface UsersResponse {
  users: ApiUser[];
}

/** POST /api/users (admin), as JSON. */
export interface UserAddRequest {
  name: string;
  password: string;
  role: ApiRole;
}

/** POST /api/users: 201. */
export interface UserAddResponse {
  user: ApiUser;
}

/** DELETE /api/users/:name (admin): 200; every dashboard session of the user ended at once. */
export interface UserRemoveResponse {
  removed: string;
  sessionsEnded: number;
}

/** PUT /api/users/:name/password (the signed-in user, for their own name), as JSON. */
export interface PasswordChangeRequest {
  currentPassword: string;
  password: string;
}

/** PUT /api/users/:name/password: 200. */
export interface PasswordChangeResponse {
  changed: string;
}

// ---- the hub page (hub/http/observability-api.ts) -----------------------------------------------------

/** One sample of the hub's status (hub/observability/status-samples.ts). */
export interface ApiStatusSample {
  ts: number;
  /** Readings committed per second since the previous sample. */
  readingsPerSecond: number;
  devicesOnline: number;
  /** 99th percentile of the ACK wait of the commits since the previous sample, in ms; null when none. */
  ackP99Ms: number | null;
  mqttClients: number;
  storageBytes: number;
}

/** GET /api/hub/samples?since= (any role): the last hour, oldest first, and the retention settings. */
export interface HubSamplesResponse {
  intervalMs: number;
  samples: ApiStatusSample[];
  retention: { rawDays: number; rollupDays: number };
}

/** One warn or error line of the hub's log. */
export interface ApiLogLine {
  ts: number;
  level: 'warn' | 'error';
  msg: string;
  fields: Record<string, unknown>;
}

/** GET /api/hub/logs?limit= (admin): the newest warn and error lines, newest first; `total` since start. */
export interface HubLogsResponse {
  lines: ApiLogLine[];
  total: number;
}

// ---- /api/firmware [FP-14] --------------------------------------------------------------------------

export type ApiUpdateState = 'queued' | 'transferring' | 'verifying' | 'done' | 'failed' | 'rolled_back';

/** One device's firmware update (docs/api.md, docs/operations.md "Firmware updates"). */
export interface ApiFirmwareUpdate {
  id: number;
  device: string;
  version: string;
  fromVersion: string;
  state: ApiUpdateState;
  /** Confirmed bytes in percent, 0-100 [FP-14.5]. */
  percent: number;
  offset: number;
  size: number;
  /** Transfers that went on from above 0 after a disconnection [FP-14.6]. */
  resumes: number;
  /** failed: why ('refused: downgrade', 'corrupt_chunk: ...'); queued after a defer: 'deferred: battery_low'. */
  reason: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface ApiFirmwareImage {
  sha256: string;
  model: string;
  version: string;
  size: number;
  addedAt: number;
}

/** GET /api/firmware: 200. */
export interface FirmwareResponse {
  images: ApiFirmwareImage[];
  updates: ApiFirmwareUpdate[];
}

/** POST /api/firmware?model=&version= (the image as the body): 201, or 200 when it was stored already. */
export interface FirmwareAddResponse {
  image: ApiFirmwareImage;
}

/** POST /api/firmware/updates, as JSON: exactly one of device and model. */
export interface FirmwareUpdateRequest {
  device?: string;
  model?: string;
  version: string;
}

/** POST /api/firmware/updates: 202. */
export interface FirmwareUpdateResponse {
  queued: ApiFirmwareUpdate[];
  skipped: { device: string; reason: string }[];
}

/** GET /api/devices/:id/firmware: 200. */
export interface DeviceFirmwareResponse {
  device: string;
  updates: ApiFirmwareUpdate[];
}
