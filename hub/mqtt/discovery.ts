// Home Assistant MQTT discovery. Device-based by default (HA 2024.11+): one retained config per device at
// <prefix>/device/<node_id>/config with `dev`, `o` and `cmps`; per-entity configs at
// <prefix>/<component>/<node_id>/<object_id>/config for older HA (mqtt.discoveryMode: entity).
// Pure: builds payloads, publishes nothing. Which entity a capability becomes: discovery/entities.ts.
import type { DeviceInfo } from '../events.js';
import { entitiesFor, nodeId, sanitize, type DiscoveryComponent, type EntityFields, type HaEntity } from './discovery/entities.js';
import type { Topics } from './topics.js';

export { eventHasState, nodeId, type DiscoveryComponent, type EntityFields } from './discovery/entities.js';

export type DiscoveryMode = 'device' | 'entity';
export const DISCOVERY_MODES: readonly DiscoveryMode[] = ['device', 'entity'];

export interface DiscoveryAvailability {
  topic: string;
  payload_available: 'online';
  payload_not_available: 'offline';
}

export interface DiscoveryDevice {
  identifiers: string[];
  name: string;
  model: string;
  sw_version: string;
  manufacturer: 'Hearth';
  /** The hub's own device, for every Hearth device (absent on the hub's device itself). */
  via_device?: string;
  /** The device's page on the hub's dashboard, when the hub's URL is known. */
  configuration_url?: string;
  /** The device's room, which Home Assistant offers as its area. */
  suggested_area?: string;
}

export interface DiscoveryOrigin {
  name: 'Hearth';
  sw?: string;
  url?: string;
}

interface Shared {
  availability: DiscoveryAvailability[];
  availability_mode: 'all';
}

/** A per-entity config (mqtt.discoveryMode: entity). */
export interface EntityDiscoveryConfig extends EntityFields, Shared {
  device: DiscoveryDevice;
  origin: DiscoveryOrigin;
}

/** One `cmps` entry: the entity's options and its platform (`p`). Only `p`: the component is being removed. */
export type DeviceComponentConfig = (EntityFields & { p: DiscoveryComponent }) | { p: DiscoveryComponent };

/** A device-based config (mqtt.discoveryMode: device, the default). */
export interface DeviceDiscoveryConfig extends Shared {
  dev: DiscoveryDevice;
  o: DiscoveryOrigin;
  cmps: Record<string, DeviceComponentConfig>;
}

export type DiscoveryConfig = EntityDiscoveryConfig | DeviceDiscoveryConfig;

export interface DiscoveryEntry {
  /** 'device' for a device-based config. */
  component: DiscoveryComponent | 'device';
  /** Capability names the config shows. */
  capabilities: string[];
  topic: string;
  /** null: clear the retained config there (the other mode's topic, see clearOtherMode). */
  config: DiscoveryConfig | null;
}

export interface DiscoveryOptions {
  /** Default 'device'. */
  mode?: DiscoveryMode;
  /** The hub's version, sent as the origin's `sw` and the hub device's `sw_version`. */
  hubVersion?: string;
  /** The hub's public base URL (`https://host:port`), or null/absent: no configuration_url. */
  hubUrl?: string | null;
  /** What was last published on each discovery topic: a component it had and this one lacks is removed. */
  previous?: ReadonlyMap<string, DiscoveryConfig | null>;
  /**
   * Also clear the other mode's topics for these entities, first: retained configs of an earlier run in the other
   * mode would otherwise hold the same unique_ids, and HA would refuse the new ones.
   */
  clearOtherMode?: boolean;
}

/** Every discovery config of a device: one device-based config, or one per entity; none without capabilities. */
export function discoveryFor(device: DeviceInfo, topics: Topics, opts: DiscoveryOptions = {}): DiscoveryEntry[] {
  const entities = entitiesFor(device, topics);
  if (entities.length === 0) return [];
  const dev: DiscoveryDevice = {
    identifiers: [nodeId(device.id)],
    name: device.name,
    model: device.model,
    sw_version: device.firmware,
    manufacturer: 'Hearth',
    via_device: bridgeNodeId(topics),
    ...(device.room ? { suggested_area: device.room } : {}),
    ...(opts.hubUrl ? { configuration_url: `${opts.hubUrl}/#/device/${encodeURIComponent(device.id)}` } : {}),
  };
  const shared: Shared = {
    availability: [avail(topics.availability(device.id)), avail(topics.bridgeState())],
    availability_mode: 'all',
  };
  return wrap(entities, nodeId(device.id), dev, shared, topics, opts);
}


/** The node id of the hub's own device: one per base topic, so two hubs on one broker stay two devices. */
export function bridgeNodeId(topics: Topics): string {
  return sanitize(`hearth_bridge_${topics.base}`);
}

/** Health gives a value every 10 s; after a minute without one HA shows the hub's figures unavailable. */
const HEALTH_EXPIRE_S = 60;

/** The discovery configs of the hub itself: devices online, readings/s, connections, ack latency, storage, version. */
export function bridgeDiscovery(topics: Topics, opts: DiscoveryOptions = {}): DiscoveryEntry[] {
  const node = bridgeNodeId(topics);
  const health = topics.bridgeHealth();
  const id = (platform: DiscoveryComponent, key: string) => ({
    unique_id: `${node}_${key}`,
    object_id: `${node}_${key}`,
    default_entity_id: `${platform}.${node}_${key}`,
  });
  const measure = (key: string, name: string, field: string, unit?: string): HaEntity => ({
    platform: 'sensor',
    key,
    capabilities: [],
    fields: {
      name,
      ...id('sensor', key),
      state_topic: health,
      value_template: `{{ value_json.${field} }}`,
      ...(unit ? { unit_of_measurement: unit } : {}),
      state_class: 'measurement',
      expire_after: HEALTH_EXPIRE_S,
    },
  });
  const entities: HaEntity[] = [
    measure('devices_online', 'Devices online', 'devicesOnline'),
    measure('readings_per_second', 'Readings per second', 'readingsPerSecond', 'readings/s'),
    measure('connections', 'Connections', 'connections'),
    {
      platform: 'sensor',
      key: 'ack_latency_p99',
      capabilities: [],
      fields: {
        name: 'Ack latency p99',
        ...id('sensor', 'ack_latency_p99'),
        entity_category: 'diagnostic',
        state_topic: health,
        // null until the hub has acked anything: Jinja renders None, which HA's sensor takes as unknown.
        value_template: '{{ value_json.ackLatencyP99Ms }}',
        device_class: 'duration',
        unit_of_measurement: 'ms',
        state_class: 'measurement',
        expire_after: HEALTH_EXPIRE_S,
      },
    },
    {
      platform: 'binary_sensor',
      key: 'storage',
      capabilities: [],
      fields: {
        name: 'Storage',
        ...id('binary_sensor', 'storage'),
        entity_category: 'diagnostic',
        state_topic: health,
        value_template: "{{ 'ON' if value_json.storage == 'failing' else 'OFF' }}",
        payload_on: 'ON',
        payload_off: 'OFF',
        device_class: 'problem',
        expire_after: HEALTH_EXPIRE_S,
      },
    },
    {
      platform: 'sensor',
      key: 'version',
      capabilities: [],
      fields: {
        name: 'Version',
        ...id('sensor', 'version'),
        entity_category: 'diagnostic',
        state_topic: topics.bridgeInfo(),
        value_template: '{{ value_json.version }}',
      },
    },
  ];
  const dev: DiscoveryDevice = {
    identifiers: [node],
    name: topics.base === 'hearth' ? 'Hearth hub' : `Hearth hub (${topics.base})`,
    model: 'Hearth hub',
    sw_version: opts.hubVersion ?? '',
    manufacturer: 'Hearth',
    ...(opts.hubUrl ? { configuration_url: `${opts.hubUrl}/#/hub` } : {}),
  };
  return wrap(entities, node, dev, { availability: [avail(topics.bridgeState())], availability_mode: 'all' }, topics, opts);
}

function wrap(entities: HaEntity[], node: string, dev: DiscoveryDevice, shared: Shared, topics: Topics, opts: DiscoveryOptions): DiscoveryEntry[] {
  const o: DiscoveryOrigin = { name: 'Hearth', ...(opts.hubVersion ? { sw: opts.hubVersion } : {}) };
  const deviceTopic = topics.deviceDiscovery(node);
  const clear = (topic: string): DiscoveryEntry => ({ component: 'device', capabilities: [], topic, config: null });
  if ((opts.mode ?? 'device') === 'entity') {
    const stale = opts.clearOtherMode ? [clear(deviceTopic)] : [];
    return stale.concat(entities.map((e) => ({
      component: e.platform,
      capabilities: e.capabilities,
      topic: topics.discovery(e.platform, node, e.key),
      config: { ...e.fields, ...shared, device: dev, origin: o },
    })));
  }
  const topic = deviceTopic;
  const cmps: Record<string, DeviceComponentConfig> = {};
  // A component gone since the last publish is sent as its platform alone, which HA takes as its removal.
  const before = opts.previous?.get(topic);
  if (before && 'cmps' in before) {
    for (const [key, c] of Object.entries(before.cmps)) if ('unique_id' in c) cmps[key] = { p: c.p };
  }
  for (const e of entities) cmps[e.key] = { p: e.platform, ...e.fields };
  const config: DeviceDiscoveryConfig = { dev, o, ...shared, cmps };
  const stale = opts.clearOtherMode ? entities.map((e) => ({ ...clear(topics.discovery(e.platform, node, e.key)), component: e.platform })) : [];
  return [...stale, { component: 'device', capabilities: [...new Set(entities.flatMap((e) => e.capabilities))], topic, config }];
}

function avail(topic: string): DiscoveryAvailability {
  return { topic, payload_available: 'online', payload_not_available: 'offline' };
}
