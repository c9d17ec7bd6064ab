// The MQTT topic tree (docs/mqtt.md): one typed map from topic kind to payload type, and the builders of
// each topic. Shared by the bridge, the dashboard and the tests; pure (no Node APIs) so a browser can use it.
import type { CommandOutcomeStatus } from '../events.js';
import type { ValueType } from '../../protocol/types.js';
import { valueToMqtt, type JsonValue } from '../../protocol/value-form.js';
import type { DiscoveryConfig } from './discovery.js';

export type Availability = 'online' | 'offline';

/** One metric's current value in `<base>/<device>/state`. */
export interface MetricState {
  value: JsonValue;
  ts: number;
}

/** `<base>/<device>/state`: every current value of the device, by metric name. */
export type DeviceStatePayload = Record<string, MetricState>;

/** `<base>/<device>/event/<name>`. */
export interface DeviceEventPayload {
  value: JsonValue;
  ts: number;
}

/** One committed reading in `<base>/<device>/readings`. */
export interface StreamReading {
  metric: string;
  value: JsonValue;
  ts: number;
}

/** `<base>/<device>/set/<command>/result`. `id` is the hub's command id, null when refused before sending. */
export interface CommandResultPayload {
  id: number | null;
  status: CommandOutcomeStatus;
  message: string;
}

export interface CapabilitySummary {
  name: string;
  valueType: ValueType;
  unit: string;
  deviceClass: string;
  writable: boolean;
  event: boolean;
  min?: number;
  max?: number;
  options?: string[];
}

/** `<base>/<device>/update` (retained): the device's firmware, as Home Assistant's update entity reads it [FP-14]. */
export interface FirmwareUpdatePayload {
  installed_version: string;
  /** The newest image of the device's model; the installed version when there is none. */
  latest_version: string;
  in_progress: boolean;
  /** 0-100 while transferring, else null. */
  update_percentage: number | null;
  /** The hub's state of the device's newest update, null when it never had one (docs/operations.md). */
  state: 'queued' | 'transferring' | 'verifying' | 'done' | 'failed' | 'rolled_back' | null;
  /** The version the newest update installs, null without one. */
  version: string | null;
  reason: string | null;
}

/** One entry of `<base>/bridge/devices`. */
export interface BridgeDevice {
  id: string;
  name: string;
  type: string;
  model: string;
  firmware: string;
  /** null until set (PATCH /api/devices/:id or the request device/rename). Always sent; optional for readers of older hubs. */
  room?: string | null;
  /** Present (true) when the device accepts firmware updates [FP-14.1]. */
  updatable?: boolean;
  online: boolean;
  lastSeen: number | null;
  capabilities: CapabilitySummary[];
}

/** `<base>/bridge/info` (retained): what the hub is and how its MQTT side is set up. */
export interface BridgeInfoPayload {
  /** The hub's `hub.id`. */
  hubId: string;
  version: string;
  /** Git commit of the build, null when the build did not record one. */
  commit: string | null;
  uptimeMs: number;
  devices: { total: number; online: number };
  mqtt: { baseTopic: string; discoveryPrefix: string; discoveryMode: string; discovery: boolean; rediscoverDelayMs: number; stateHeartbeatMs: number; healthIntervalMs: number };
}

/** `<base>/bridge/health` (every mqtt.healthIntervalMs, not retained). */
export interface BridgeHealthPayload {
  /** Readings committed per second since the previous health message. */
  readingsPerSecond: number;
  devicesOnline: number;
  /** Device connections (greetings) since the hub started. */
  connections: number;
  /** p99 of accepted-to-ACK over the frames acknowledged since the previous message, ms; null when none was (or no source). */
  ackLatencyP99Ms: number | null;
  storage: 'ok' | 'failing';
  /** Connections since the hub started, per device that connected at least once. */
  deviceConnections: Record<string, number>;
}

export const BRIDGE_EVENT_TYPES = ['device_joined', 'device_left', 'device_connected', 'device_disconnected', 'device_updated'] as const;
export type BridgeEventType = (typeof BRIDGE_EVENT_TYPES)[number];

/** `<base>/bridge/event` (not retained), like Zigbee2MQTT's. */
export interface BridgeEventPayload {
  type: BridgeEventType;
  data: { id: string; name?: string; room?: string | null };
}

/** The verbs of `<base>/bridge/request/<verb>`. */
export const BRIDGE_VERBS = ['device/add', 'device/rename', 'device/remove', 'device/revoke', 'devices', 'health_check'] as const;
export type BridgeVerb = (typeof BRIDGE_VERBS)[number];

/** `<base>/bridge/response/<verb>`: the request's `transaction` echoed (absent when the request had none). */
export type BridgeResponsePayload =
  | { status: 'ok'; data: Record<string, unknown> | unknown[]; transaction?: JsonValue }
  | { status: 'error'; error: string; data: Record<string, never>; transaction?: JsonValue };

/** `<base>/bridge/canary` (retained): the hub's marker that the broker still holds its retained messages. */
export interface BridgeCanaryPayload {
  instance: string;
}

/** Topic kind -> payload type. `metric` is sent as a plain value (valueToMqtt: bool as ON/OFF), the rest as JSON. */
export interface TopicPayloads {
  state: DeviceStatePayload;
  metric: JsonValue;
  availability: Availability;
  /** Every reading committed since the last message of the device, oldest first (not coalesced). */
  readings: StreamReading[];
  event: DeviceEventPayload;
  /** Inbound: a plain value or JSON (see parseCommandPayload). */
  set: string;
  setResult: CommandResultPayload;
  update: FirmwareUpdatePayload;
  /** Inbound: `install` installs latest_version. */
  updateInstall: string;
  bridgeState: Availability;
  bridgeDevices: BridgeDevice[];
  bridgeInfo: BridgeInfoPayload;
  bridgeHealth: BridgeHealthPayload;
  bridgeEvent: BridgeEventPayload;
  /** Inbound: a JSON object, optionally with `transaction`. */
  bridgeRequest: string;
  bridgeResponse: BridgeResponsePayload;
  bridgeCanary: BridgeCanaryPayload;
  /** Several hubs on one broker: one hub's own state (`<base>/bridge/hubs/<id>/state`, its will). */
  hubState: Availability;
  /** Several hubs on one broker: one hub's canary, instead of bridgeCanary. */
  hubCanary: BridgeCanaryPayload;
  /** Inbound from Home Assistant: `online` makes the hub re-publish discovery and state. */
  discoveryStatus: Availability;
  /** null clears the retained config (empty payload), which removes the entity from Home Assistant. */
  discovery: DiscoveryConfig | null;
}
export type TopicKind = keyof TopicPayloads;

/** A message of the tree: its kind fixes the payload type. */
export type TopicMessage = { [K in TopicKind]: { kind: K; topic: string; payload: TopicPayloads[K] } }[TopicKind];

/** Which kinds the broker keeps for late subscribers. */
export const RETAINED: Readonly<Record<TopicKind, boolean>> = {
  state: true,
  metric: true,
  availability: true,
  readings: false,
  event: false,
  set: false,
  setResult: false,
  update: true,
  updateInstall: false,
  bridgeState: true,
  bridgeDevices: true,
  bridgeInfo: true,
  bridgeHealth: false,
  bridgeEvent: false,
  bridgeRequest: false,
  bridgeResponse: false,
  bridgeCanary: true,
  hubState: true,
  hubCanary: true,
  discovery: true,
  discoveryStatus: false,
};

/** Kinds clients publish and the hub reads (the rest only the hub publishes). */
export const INBOUND: readonly TopicKind[] = ['set', 'bridgeRequest', 'discoveryStatus', 'updateInstall'];

/** Metric names that would collide with a fixed topic of the device: they appear only in `state`. */
export const RESERVED_METRIC_NAMES: readonly string[] = ['state', 'availability', 'event', 'set', 'readings', 'update'];

/** The device-level segment the bridge's own topics use; no device may have this id. */
export const BRIDGE_SEGMENT = 'bridge';

export const DEFAULT_BASE_TOPIC = 'hearth';
export const DEFAULT_DISCOVERY_PREFIX = 'homeassistant';

/** Where an inbound topic points, when it is one the hub reads. */
export type ParsedTopic =
  | { kind: 'set'; device: string; command: string }
  | { kind: 'updateInstall'; device: string }
  | { kind: 'bridgeRequest'; verb: string }
  | { kind: 'discoveryStatus' };

/** Builds and parses the topics of one hub (one base topic, one discovery prefix). */
export class Topics {
  readonly base: string;
  readonly discoveryPrefix: string;

  constructor(base: string = DEFAULT_BASE_TOPIC, discoveryPrefix: string = DEFAULT_DISCOVERY_PREFIX) {
    this.base = base;
    this.discoveryPrefix = discoveryPrefix;
  }

  state(device: string): string {
    return `${this.base}/${device}/state`;
  }

  /** Null for a reserved metric name, which has no topic of its own. */
  metric(device: string, metric: string): string | null {
    return RESERVED_METRIC_NAMES.includes(metric) ? null : `${this.base}/${device}/${metric}`;
  }

  availability(device: string): string {
    return `${this.base}/${device}/availability`;
  }

  readings(device: string): string {
    return `${this.base}/${device}/readings`;
  }

  event(device: string, name: string): string {
    return `${this.base}/${device}/event/${name}`;
  }

  set(device: string, command: string): string {
    return `${this.base}/${device}/set/${command}`;
  }

  setResult(device: string, command: string): string {
    return `${this.base}/${device}/set/${command}/result`;
  }

  /** The device's firmware state (Home Assistant's update entity) [FP-14]. */
  update(device: string): string {
    return `${this.base}/${device}/update`;
  }

  /** Home Assistant's Install button publishes here. */
  updateInstall(device: string): string {
    return `${this.base}/${device}/update/install`;
  }

  updateInstallFilter(): string {
    return `${this.base}/+/update/install`;
  }

  /** Filter matching every command topic (and no result topic). */
  setFilter(): string {
    return `${this.base}/+/set/+`;
  }

  bridgeState(): string {
    return `${this.base}/${BRIDGE_SEGMENT}/state`;
  }

  bridgeDevices(): string {
    return `${this.base}/${BRIDGE_SEGMENT}/devices`;
  }

  bridgeInfo(): string {
    return `${this.base}/${BRIDGE_SEGMENT}/info`;
  }

  bridgeHealth(): string {
    return `${this.base}/${BRIDGE_SEGMENT}/health`;
  }

  bridgeEvent(): string {
    return `${this.base}/${BRIDGE_SEGMENT}/event`;
  }

  bridgeRequest(verb: string): string {
    return `${this.base}/${BRIDGE_SEGMENT}/request/${verb}`;
  }

  /** Filter matching every bridge request. */
  bridgeRequestFilter(): string {
    return `${this.base}/${BRIDGE_SEGMENT}/request/#`;
  }

  bridgeResponse(verb: string): string {
    return `${this.base}/${BRIDGE_SEGMENT}/response/${verb}`;
  }

  bridgeCanary(): string {
    return `${this.base}/${BRIDGE_SEGMENT}/canary`;
  }

  /** Several hubs on one broker: each hub's own canary. */
  hubCanary(hubId: string): string {
    return `${this.base}/${BRIDGE_SEGMENT}/hubs/${hubId}/canary`;
  }

  /** Several hubs on one broker: one hub's own state, online or offline (its will). */
  hubState(hubId: string): string {
    return `${this.base}/${BRIDGE_SEGMENT}/hubs/${hubId}/state`;
  }

  discovery(component: string, nodeId: string, objectId: string): string {
    return `${this.discoveryPrefix}/${component}/${nodeId}/${objectId}/config`;
  }

  /** Device-based discovery (Home Assistant 2024.11+): one config for all of a device's entities. */
  deviceDiscovery(nodeId: string): string {
    return `${this.discoveryPrefix}/device/${nodeId}/config`;
  }

  /** Home Assistant's birth/will topic, which HA clients publish to. */
  discoveryStatus(): string {
    return `${this.discoveryPrefix}/status`;
  }

  /** What an inbound topic addresses (command, bridge request, HA status), or null when the hub does not read it. */
  parse(topic: string): ParsedTopic | null {
    if (topic === this.discoveryStatus()) return { kind: 'discoveryStatus' };
    const request = `${this.base}/${BRIDGE_SEGMENT}/request/`;
    if (topic.startsWith(request)) {
      const verb = topic.slice(request.length);
      return verb === '' || /[+#\u0000]/.test(verb) ? null : { kind: 'bridgeRequest', verb };
    }
    const prefix = `${this.base}/`;
    if (!topic.startsWith(prefix)) return null;
    const rest = topic.slice(prefix.length).split('/');
    if (rest.length === 3 && rest[1] === 'update' && rest[2] === 'install') return isTopicSafeId(rest[0]!) ? { kind: 'updateInstall', device: rest[0]! } : null;
    if (rest.length !== 3 || rest[1] !== 'set') return null;
    const [device, , command] = rest as [string, string, string];
    if (!isTopicSafeId(device) || command === '') return null;
    return { kind: 'set', device, command };
  }
}

/** True when an id can be one topic level of the tree: non-empty, no wildcard, separator or `$`, not 'bridge'. */
export function isTopicSafeId(id: string): boolean {
  return id !== '' && id !== BRIDGE_SEGMENT && !/[/+#\u0000]/.test(id) && !id.startsWith('$');
}

/** Serializes a message's payload: plain for metrics and availability, JSON otherwise, '' for a cleared config. */
export function encodePayload(message: TopicMessage): string {
  switch (message.kind) {
    case 'metric':
      return valueToMqtt(message.payload);
    case 'availability':
    case 'bridgeState':
    case 'hubState':
    case 'discoveryStatus':
    case 'set':
    case 'bridgeRequest':
    case 'updateInstall':
      return message.payload;
    case 'discovery':
      return message.payload === null ? '' : JSON.stringify(message.payload);
    case 'state':
    case 'readings':
    case 'event':
    case 'setResult':
    case 'update':
    case 'bridgeDevices':
    case 'bridgeInfo':
    case 'bridgeHealth':
    case 'bridgeEvent':
    case 'bridgeResponse':
    case 'bridgeCanary':
    case 'hubCanary':
      return JSON.stringify(message.payload);
  }
}
