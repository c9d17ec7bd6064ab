// Home Assistant MQTT discovery: one retained config per entity under
// <prefix>/<component>/<node_id>/<object_id>/config. Pure: builds payloads, publishes nothing.
import type { Capability } from '../../protocol/types.js';
import { MQTT_OFF, MQTT_ON } from '../../protocol/value-form.js';
import type { DeviceInfo } from '../events.js';
import type { Topics } from './topics.js';

export type DiscoveryComponent =
  | 'switch'
  | 'light'
  | 'binary_sensor'
  | 'event'
  | 'number'
  | 'climate'
  | 'sensor'
  | 'select'
  | 'text';

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
  /** The device's room, which Home Assistant offers as its area. */
  suggested_area?: string;
}

/** The fields Hearth sends; Home Assistant ignores the ones a component does not take. */
export interface DiscoveryConfig {
  /** null: the entity takes the device's name (the light of a lamp, the climate of a thermostat). */
  name: string | null;
  unique_id: string;
  /** Pre-2025.10 Home Assistant reads object_id, later ones default_entity_id: both are sent. */
  object_id: string;
  default_entity_id: string;
  availability: DiscoveryAvailability[];
  availability_mode: 'all';
  device: DiscoveryDevice;
  origin: { name: 'Hearth' };
  state_topic?: string;
  value_template?: string;
  command_topic?: string;
  payload_on?: string;
  payload_off?: string;
  device_class?: string;
  unit_of_measurement?: string;
  state_class?: 'measurement' | 'total_increasing';
  options?: string[];
  min?: number;
  /** number: upper bound; text: longest length. */
  max?: number;
  step?: number;
  mode?: 'auto' | 'box' | 'slider';
  event_types?: string[];
  brightness_command_topic?: string;
  brightness_state_topic?: string;
  brightness_value_template?: string;
  brightness_scale?: number;
  current_temperature_topic?: string;
  current_temperature_template?: string;
  temperature_command_topic?: string;
  temperature_state_topic?: string;
  temperature_state_template?: string;
  mode_state_topic?: string;
  mode_state_template?: string;
  modes?: string[];
  min_temp?: number;
  max_temp?: number;
  temp_step?: number;
  temperature_unit?: 'C' | 'F';
}

export interface DiscoveryEntry {
  component: DiscoveryComponent;
  /** Capability names this entity shows (a light may show two, a climate two). */
  capabilities: string[];
  topic: string;
  config: DiscoveryConfig;
}

// Device classes Home Assistant accepts per component; an unknown one would make HA refuse the whole config.
const BINARY_SENSOR_CLASSES = new Set([
  'battery', 'battery_charging', 'carbon_monoxide', 'cold', 'connectivity', 'door', 'garage_door', 'gas', 'heat',
  'light', 'lock', 'moisture', 'motion', 'moving', 'occupancy', 'opening', 'plug', 'power', 'presence', 'problem',
  'running', 'safety', 'smoke', 'sound', 'tamper', 'update', 'vibration', 'window',
]);
const SENSOR_CLASSES = new Set([
  'apparent_power', 'aqi', 'area', 'atmospheric_pressure', 'battery', 'blood_glucose_concentration',
  'carbon_dioxide', 'carbon_monoxide', 'conductivity', 'current', 'data_rate', 'data_size', 'distance', 'duration',
  'energy', 'energy_distance', 'energy_storage', 'frequency', 'gas', 'humidity', 'illuminance', 'irradiance',
  'moisture', 'monetary', 'nitrogen_dioxide', 'nitrogen_monoxide', 'nitrous_oxide', 'ozone', 'ph', 'pm1', 'pm10',
  'pm25', 'power_factor', 'power', 'precipitation', 'precipitation_intensity', 'pressure', 'reactive_power',
  'signal_strength', 'sound_pressure', 'speed', 'sulphur_dioxide', 'temperature', 'volatile_organic_compounds',
  'volatile_organic_compounds_parts', 'voltage', 'volume', 'volume_flow_rate', 'volume_storage', 'water', 'weight',
  'wind_direction', 'wind_speed',
]);
const SWITCH_CLASSES = new Set(['outlet', 'switch']);
const EVENT_CLASSES = new Set(['button', 'doorbell', 'motion']);
/** Counters that only grow; Home Assistant's statistics want them as total_increasing. */
const TOTAL_INCREASING_CLASSES = new Set(['energy', 'gas', 'water']);
const LIGHT_ON_NAMES = ['on', 'power', 'state', 'light', 'switch'];
const FLOAT_STEP = 0.1;
/** A bool's plain MQTT payloads (valueToMqtt), so HA reads the metric topics as they are. */
const BOOL_PAYLOADS = { payload_on: MQTT_ON, payload_off: MQTT_OFF };

/** Every discovery entry of a device, one per entity, in capability order. */
export function discoveryFor(device: DeviceInfo, topics: Topics): DiscoveryEntry[] {
  const caps = device.capabilities;
  const folded = new Set<string>();
  const entries: DiscoveryEntry[] = [];
  const base = baseConfig(device, topics);

  const thermostat = findThermostat(caps);
  if (thermostat) {
    folded.add(thermostat.setpoint.name);
    entries.push(climate(device, topics, base, thermostat.temperature, thermostat.setpoint));
  }
  const light = findLight(device);
  if (light) {
    folded.add(light.on.name);
    if (light.brightness) folded.add(light.brightness.name);
    entries.push(lightEntity(device, topics, base, light.on, light.brightness));
  }
  for (const cap of caps) {
    if (!folded.has(cap.name)) entries.push(single(device, topics, base, cap));
  }
  return entries;
}

type BaseOf = (component: DiscoveryComponent, key: string, name: string | null) => DiscoveryConfig;

function baseConfig(device: DeviceInfo, topics: Topics): BaseOf {
  const node = nodeId(device.id);
  return (component, key, name) => {
    const objectId = sanitize(`${device.id}_${key}`);
    return {
      name,
      unique_id: `${node}_${sanitize(key)}`,
      object_id: objectId,
      default_entity_id: `${component}.${objectId}`,
      availability: [avail(topics.availability(device.id)), avail(topics.bridgeState())],
      availability_mode: 'all',
      device: {
        identifiers: [node],
        name: device.name,
        model: device.model,
        sw_version: device.firmware,
        manufacturer: 'Hearth',
        ...(device.room ? { suggested_area: device.room } : {}),
      },
      origin: { name: 'Hearth' },
    };
  };
}

function single(device: DeviceInfo, topics: Topics, base: BaseOf, cap: Capability): DiscoveryEntry {
  const name = humanize(cap.name);
  const dc = cap.deviceClass;
  const src = stateSource(device.id, topics, cap);
  const command = topics.set(device.id, cap.name);
  const entry = (component: DiscoveryComponent, extra: Partial<DiscoveryConfig>): DiscoveryEntry => ({
    component,
    capabilities: [cap.name],
    topic: topics.discovery(component, nodeId(device.id), sanitize(cap.name)),
    config: { ...base(component, cap.name, name), ...extra },
  });

  if (cap.event) return entry('event', eventFields(device.id, topics, cap));
  switch (cap.valueType) {
    case 'bool':
      return cap.writable
        ? entry('switch', { ...src, command_topic: command, ...BOOL_PAYLOADS, ...cls(SWITCH_CLASSES, dc) })
        : entry('binary_sensor', { ...src, ...BOOL_PAYLOADS, ...cls(BINARY_SENSOR_CLASSES, dc) });
    case 'int':
    case 'float': {
      const unit = cap.unit ? { unit_of_measurement: cap.unit } : {};
      if (cap.writable) {
        const range = cap.min !== undefined && cap.max !== undefined ? { min: cap.min, max: cap.max } : {};
        return entry('number', {
          ...src,
          command_topic: command,
          ...range,
          step: cap.valueType === 'int' ? 1 : FLOAT_STEP,
          // Without a declared range a slider would be meaningless: ask for a text box.
          mode: 'min' in range ? 'auto' : 'box',
          ...unit,
          ...cls(SENSOR_CLASSES, dc),
        });
      }
      const stateClass = TOTAL_INCREASING_CLASSES.has(dc) ? 'total_increasing' : 'measurement';
      return entry('sensor', { ...src, ...cls(SENSOR_CLASSES, dc), ...unit, state_class: stateClass });
    }
    case 'enum':
      return cap.writable
        ? entry('select', { ...src, command_topic: command, options: [...(cap.options ?? [])] })
        : entry('sensor', { ...src, device_class: 'enum', options: [...(cap.options ?? [])] });
    case 'string':
      return cap.writable ? entry('text', { ...src, command_topic: command, max: 255 }) : entry('sensor', { ...src });
  }
}

function eventFields(deviceId: string, topics: Topics, cap: Capability): Partial<DiscoveryConfig> {
  // HA's event entity wants {"event_type": one of event_types}; Hearth's event payload is {value, ts}.
  let types: string[];
  let template: string;
  if (cap.valueType === 'enum') {
    types = [...(cap.options ?? [])];
    template = '{"event_type": {{ value_json.value | tojson }}}';
  } else if (cap.valueType === 'bool') {
    types = [MQTT_ON, MQTT_OFF];
    template = `{"event_type": "{{ ${boolTemplate('value_json.value')} }}"}`;
  } else {
    types = [cap.name];
    template = `{"event_type": "${cap.name}", "value": {{ value_json.value | tojson }}}`;
  }
  return {
    state_topic: topics.event(deviceId, cap.name),
    value_template: template,
    event_types: types,
    ...cls(EVENT_CLASSES, cap.deviceClass),
  };
}

function lightEntity(
  device: DeviceInfo,
  topics: Topics,
  base: BaseOf,
  on: Capability,
  brightness: Capability | undefined,
): DiscoveryEntry {
  const src = stateSource(device.id, topics, on);
  const config: DiscoveryConfig = {
    ...base('light', on.name, null),
    ...src,
    command_topic: topics.set(device.id, on.name),
    ...BOOL_PAYLOADS,
  };
  if (brightness) {
    const b = stateSource(device.id, topics, brightness);
    config.brightness_command_topic = topics.set(device.id, brightness.name);
    config.brightness_state_topic = b.state_topic;
    if (b.value_template) config.brightness_value_template = b.value_template;
    config.brightness_scale = brightness.max ?? 100;
  }
  const caps = brightness ? [on.name, brightness.name] : [on.name];
  return { component: 'light', capabilities: caps, topic: topics.discovery('light', nodeId(device.id), sanitize(on.name)), config };
}

function climate(
  device: DeviceInfo,
  topics: Topics,
  base: BaseOf,
  temperature: Capability,
  setpoint: Capability,
): DiscoveryEntry {
  const cur = stateSource(device.id, topics, temperature);
  const target = stateSource(device.id, topics, setpoint);
  const config: DiscoveryConfig = {
    ...base('climate', 'climate', null),
    current_temperature_topic: cur.state_topic,
    temperature_command_topic: topics.set(device.id, setpoint.name),
    temperature_state_topic: target.state_topic,
    modes: ['heat'],
    // Without a mode state topic HA would show the thermostat as 'off'; it only heats, so say so.
    mode_state_topic: target.state_topic,
    mode_state_template: 'heat',
    temp_step: setpoint.valueType === 'int' ? 1 : 0.5,
  };
  if (cur.value_template) config.current_temperature_template = cur.value_template;
  if (target.value_template) config.temperature_state_template = target.value_template;
  if (setpoint.min !== undefined) config.min_temp = setpoint.min;
  if (setpoint.max !== undefined) config.max_temp = setpoint.max;
  const unit = setpoint.unit || temperature.unit;
  if (unit === '°C' || unit === 'C') config.temperature_unit = 'C';
  if (unit === '°F' || unit === 'F') config.temperature_unit = 'F';
  return {
    component: 'climate',
    capabilities: [temperature.name, setpoint.name],
    topic: topics.discovery('climate', nodeId(device.id), 'climate'),
    config,
  };
}

/** A thermostat: a read-only numeric `temperature` and a writable numeric `setpoint`. */
function findThermostat(caps: Capability[]): { temperature: Capability; setpoint: Capability } | null {
  const numeric = (c: Capability) => (c.valueType === 'int' || c.valueType === 'float') && !c.event;
  const temperature = caps.find((c) => c.name === 'temperature' && numeric(c) && !c.writable);
  const setpoint = caps.find((c) => c.name === 'setpoint' && numeric(c) && c.writable);
  return temperature && setpoint ? { temperature, setpoint } : null;
}

/** A light: a device whose type or model says so, with a writable bool; brightness when it declares one. */
function findLight(device: DeviceInfo): { on: Capability; brightness: Capability | undefined } | null {
  if (!/light|lamp|bulb/i.test(`${device.type} ${device.model}`)) return null;
  const bools = device.capabilities.filter((c) => c.valueType === 'bool' && c.writable && !c.event);
  const on = bools.find((c) => LIGHT_ON_NAMES.includes(c.name)) ?? bools[0];
  if (!on) return null;
  const brightness = device.capabilities.find(
    (c) => c.name === 'brightness' && c.writable && !c.event && (c.valueType === 'int' || c.valueType === 'float'),
  );
  return { on, brightness };
}

/** Where HA reads a capability: its plain topic, or the JSON state topic with a template for reserved names. */
function stateSource(deviceId: string, topics: Topics, cap: Capability): { state_topic: string; value_template?: string } {
  const plain = topics.metric(deviceId, cap.name);
  if (plain !== null) return { state_topic: plain };
  const v = `value_json['${cap.name}'].value`;
  return {
    state_topic: topics.state(deviceId),
    value_template: cap.valueType === 'bool' ? `{{ ${boolTemplate(v)} }}` : `{{ ${v} }}`,
  };
}

/** A Jinja expression turning a JSON bool into the plain payload valueToMqtt gives it. */
function boolTemplate(json: string): string {
  return `'${MQTT_ON}' if ${json} else '${MQTT_OFF}'`;
}

function cls(allowed: Set<string>, deviceClass: string): { device_class?: string } {
  return allowed.has(deviceClass) ? { device_class: deviceClass } : {};
}

function avail(topic: string): DiscoveryAvailability {
  return { topic, payload_available: 'online', payload_not_available: 'offline' };
}

/** The node id and device identifier of a device in Home Assistant. */
export function nodeId(deviceId: string): string {
  return sanitize(`hearth_${deviceId}`);
}

// HA's node_id and object_id take [a-zA-Z0-9_-] only.
function sanitize(s: string): string {
  return s.replace(/[^a-zA-Z0-9_-]/g, '_');
}

function humanize(name: string): string {
  const words = name.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}
