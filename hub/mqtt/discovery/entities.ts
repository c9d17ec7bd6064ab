// Capabilities -> Home Assistant entities: which platform, device class, unit, state class and name each one
// gets. Pure; hub/mqtt/discovery.ts wraps the entities into device-based or per-entity discovery payloads.
import type { Capability } from '../../../protocol/types.js';
import { MQTT_OFF, MQTT_ON } from '../../../protocol/value-form.js';
import type { DeviceInfo } from '../../events.js';
import type { Topics } from '../topics.js';
import { updateEntity } from './update-entity.js';
import {
  BINARY_CLASS_ALIASES,
  BINARY_SENSOR_CLASSES,
  DIAGNOSTIC_CLASSES,
  DIAGNOSTIC_NAMES,
  EVENT_CLASSES,
  SENSOR_CLASS_UNITS,
  SWITCH_CLASSES,
  TOTAL_INCREASING_CLASSES,
  haUnit,
  properName,
} from './ha-vocabulary.js';

export type DiscoveryComponent =
  | 'switch'
  | 'light'
  | 'binary_sensor'
  | 'event'
  | 'number'
  | 'climate'
  | 'sensor'
  | 'select'
  | 'text'
  | 'update';

/** An entity's own options: what a per-entity config and a `cmps` entry share (no device, origin, availability). */
export interface EntityFields {
  /** Absent: HA names the entity after its device class. null: the entity takes the device's name. */
  name?: string | null;
  unique_id: string;
  /** Pre-2025.10 Home Assistant reads object_id, later ones default_entity_id: both are sent. */
  object_id: string;
  default_entity_id: string;
  entity_category?: 'diagnostic' | 'config';
  state_topic?: string;
  value_template?: string;
  command_topic?: string;
  payload_on?: string;
  payload_off?: string;
  device_class?: string;
  unit_of_measurement?: string;
  state_class?: 'measurement' | 'total_increasing';
  /** Seconds without a state message after which HA shows the entity unavailable. */
  expire_after?: number;
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
  payload_install?: string;
  title?: string;
}

/** One Home Assistant entity of a device. */
export interface HaEntity {
  platform: DiscoveryComponent;
  /** Unique within the device: the per-entity topic's object id and the `cmps` key. */
  key: string;
  /** Capability names this entity shows (a light may show two, a climate two). */
  capabilities: string[];
  fields: EntityFields;
}

const LIGHT_ON_NAMES = ['on', 'power', 'state', 'light', 'switch'];
const FLOAT_STEP = 0.1;
/** A bool's plain MQTT payloads (valueToMqtt), so HA reads the metric topics as they are. */
const BOOL_PAYLOADS = { payload_on: MQTT_ON, payload_off: MQTT_OFF };
/** Option names that mean "on" for a two-state enum shown as a binary_sensor (HA: on = open, detected, wet). */
const ON_OPTIONS = new Set(['open', 'opened', 'on', 'detected', 'motion', 'occupied', 'present', 'wet', 'leak', 'active', 'true']);

/** Every entity of a device, in capability order (a thermostat's climate and a lamp's light first). */
export function entitiesFor(device: DeviceInfo, topics: Topics): HaEntity[] {
  const caps = device.capabilities;
  const folded = new Set<string>();
  const entities: HaEntity[] = [];
  const base = baseFields(device);

  const thermostat = findThermostat(caps);
  if (thermostat) {
    folded.add(thermostat.setpoint.name);
    entities.push(climate(device, topics, base, thermostat.temperature, thermostat.setpoint));
  }
  const light = findLight(device);
  if (light) {
    folded.add(light.on.name);
    if (light.brightness) folded.add(light.brightness.name);
    entities.push(lightEntity(device, topics, base, light.on, light.brightness));
  }
  const singles = caps.filter((c) => !folded.has(c.name)).map((c) => single(device, topics, base, c));
  // HA names an entity without `name` after its device class: two of one class on a device need their own names.
  const perClass = new Map<string, number>();
  for (const e of singles) if (!('name' in e.fields)) perClass.set(classKey(e), (perClass.get(classKey(e)) ?? 0) + 1);
  for (const e of singles) {
    if (!('name' in e.fields) && perClass.get(classKey(e))! > 1) e.fields = { name: properName(e.capabilities[0]!), ...e.fields };
  }
  // A device whose HELLO set UPDATES gets Home Assistant's update entity [FP-14.1].
  return [...entities, ...singles, ...(device.updatable === true ? [updateEntity(device, topics, base)] : [])];
}

/** Whether an event capability is shown as a binary_sensor, so its latest value is kept on a retained topic. */
export function eventHasState(cap: Capability): boolean {
  return cap.event && binaryClass(cap) !== null;
}

export type BaseOf = (platform: DiscoveryComponent, key: string) => Pick<EntityFields, 'unique_id' | 'object_id' | 'default_entity_id'>;

function baseFields(device: DeviceInfo): BaseOf {
  const node = nodeId(device.id);
  return (platform, key) => {
    const objectId = sanitize(`${device.id}_${key}`);
    return { unique_id: `${node}_${sanitize(key)}`, object_id: objectId, default_entity_id: `${platform}.${objectId}` };
  };
}

function single(device: DeviceInfo, topics: Topics, base: BaseOf, cap: Capability): HaEntity {
  const dc = cap.deviceClass;
  const src = stateSource(device.id, topics, cap);
  const command = topics.set(device.id, cap.name);
  const diagnostic = DIAGNOSTIC_CLASSES.has(dc) || DIAGNOSTIC_NAMES.has(cap.name) ? { entity_category: 'diagnostic' as const } : {};
  const entity = (platform: DiscoveryComponent, extra: Omit<EntityFields, 'unique_id' | 'object_id' | 'default_entity_id'>): HaEntity => {
    // A device class gives HA the entity's name (translated); without one, a proper name.
    const name = extra.device_class && extra.device_class !== 'enum' ? {} : { name: properName(cap.name) };
    return { platform, key: sanitize(cap.name), capabilities: [cap.name], fields: { ...name, ...base(platform, cap.name), ...diagnostic, ...extra } };
  };

  const binary = binaryClass(cap);
  // [issue: entities] a motion/door/leak state is a binary_sensor even when the device reports it as events.
  if (binary !== null && !cap.writable && (!cap.event || topics.metric(device.id, cap.name) !== null)) {
    return entity('binary_sensor', { ...src, ...binaryPayloads(cap), device_class: binary });
  }
  if (cap.event) return entity('event', eventFields(device.id, topics, cap));
  switch (cap.valueType) {
    case 'bool':
      if (cap.writable) {
        const cls = SWITCH_CLASSES.has(dc) ? { device_class: dc } : {};
        const main = isMainSwitch(device, cap) ? { name: null } : {};
        const e = entity('switch', { ...src, command_topic: command, ...BOOL_PAYLOADS, ...cls });
        return { ...e, fields: { ...e.fields, ...main } };
      }
      return entity('binary_sensor', { ...src, ...BOOL_PAYLOADS });
    case 'int':
    case 'float': {
      const unit = cap.unit ? { unit_of_measurement: haUnit(cap.unit) } : {};
      const cls = sensorClass(dc, unit.unit_of_measurement);
      if (cap.writable) {
        const range = cap.min !== undefined && cap.max !== undefined ? { min: cap.min, max: cap.max } : {};
        return entity('number', {
          ...src,
          command_topic: command,
          ...range,
          step: cap.valueType === 'int' ? 1 : FLOAT_STEP,
          // Without a declared range a slider would be meaningless: ask for a text box.
          mode: 'min' in range ? 'auto' : 'box',
          ...unit,
          ...cls,
        });
      }
      const stateClass = cls.device_class && TOTAL_INCREASING_CLASSES.has(cls.device_class) ? 'total_increasing' : 'measurement';
      return entity('sensor', { ...src, ...cls, ...unit, state_class: stateClass });
    }
    case 'enum':
      return cap.writable
        ? entity('select', { ...src, command_topic: command, options: [...(cap.options ?? [])] })
        : entity('sensor', { ...src, device_class: 'enum', options: [...(cap.options ?? [])] });
    case 'string':
      return cap.writable ? entity('text', { ...src, command_topic: command, max: 255 }) : entity('sensor', { ...src });
  }
}

/** The binary_sensor class of a read-only bool or two-state enum with one, else null. */
function binaryClass(cap: Capability): string | null {
  const twoState = cap.valueType === 'bool' || (cap.valueType === 'enum' && cap.options?.length === 2);
  if (!twoState || cap.writable) return null;
  const dc = BINARY_CLASS_ALIASES[cap.deviceClass] ?? cap.deviceClass;
  return BINARY_SENSOR_CLASSES.has(dc) ? dc : null;
}

/** ON/OFF for a bool; for a two-state enum, its "on" option (open, detected...; else the second) and the other. */
function binaryPayloads(cap: Capability): { payload_on: string; payload_off: string } {
  if (cap.valueType !== 'enum') return BOOL_PAYLOADS;
  const [a, b] = cap.options as [string, string];
  const on = ON_OPTIONS.has(a.toLowerCase()) && !ON_OPTIONS.has(b.toLowerCase()) ? a : b;
  return { payload_on: on, payload_off: on === a ? b : a };
}

/** The device class when HA takes it with this unit (a wrong unit would make HA refuse the config). */
function sensorClass(dc: string, unit: string | undefined): { device_class?: string } {
  const units = SENSOR_CLASS_UNITS[dc];
  if (!units) return {};
  return units.includes(unit ?? null) ? { device_class: dc } : {};
}

/** The device's one on/off switch (a plug's `on`): HA shows it under the device's own name. */
function isMainSwitch(device: DeviceInfo, cap: Capability): boolean {
  const switches = device.capabilities.filter((c) => c.valueType === 'bool' && c.writable && !c.event);
  return switches.length === 1 && LIGHT_ON_NAMES.includes(cap.name);
}

function classKey(e: HaEntity): string {
  return `${e.platform}:${e.fields.device_class ?? ''}`;
}

function eventFields(deviceId: string, topics: Topics, cap: Capability): Omit<EntityFields, 'unique_id' | 'object_id' | 'default_entity_id'> {
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
    ...(EVENT_CLASSES.has(cap.deviceClass) ? { device_class: cap.deviceClass } : {}),
  };
}

function lightEntity(device: DeviceInfo, topics: Topics, base: BaseOf, on: Capability, brightness: Capability | undefined): HaEntity {
  const src = stateSource(device.id, topics, on);
  const fields: EntityFields = {
    name: null,
    ...base('light', on.name),
    ...src,
    command_topic: topics.set(device.id, on.name),
    ...BOOL_PAYLOADS,
  };
  if (brightness) {
    const b = stateSource(device.id, topics, brightness);
    fields.brightness_command_topic = topics.set(device.id, brightness.name);
    fields.brightness_state_topic = b.state_topic;
    if (b.value_template) fields.brightness_value_template = b.value_template;
    fields.brightness_scale = brightness.max ?? 100;
  }
  const caps = brightness ? [on.name, brightness.name] : [on.name];
  return { platform: 'light', key: sanitize(on.name), capabilities: caps, fields };
}

function climate(device: DeviceInfo, topics: Topics, base: BaseOf, temperature: Capability, setpoint: Capability): HaEntity {
  const cur = stateSource(device.id, topics, temperature);
  const target = stateSource(device.id, topics, setpoint);
  const fields: EntityFields = {
    name: null,
    ...base('climate', 'climate'),
    current_temperature_topic: cur.state_topic,
    temperature_command_topic: topics.set(device.id, setpoint.name),
    temperature_state_topic: target.state_topic,
    modes: ['heat'],
    // Without a mode state topic HA would show the thermostat as 'off'; it only heats, so say so.
    mode_state_topic: target.state_topic,
    mode_state_template: 'heat',
    temp_step: setpoint.valueType === 'int' ? 1 : 0.5,
  };
  if (cur.value_template) fields.current_temperature_template = cur.value_template;
  if (target.value_template) fields.temperature_state_template = target.value_template;
  if (setpoint.min !== undefined) fields.min_temp = setpoint.min;
  if (setpoint.max !== undefined) fields.max_temp = setpoint.max;
  const unit = haUnit(setpoint.unit || temperature.unit);
  if (unit === '°C') fields.temperature_unit = 'C';
  if (unit === '°F') fields.temperature_unit = 'F';
  return { platform: 'climate', key: 'climate', capabilities: [temperature.name, setpoint.name], fields };
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

/** The node id and device identifier of a device in Home Assistant. */
export function nodeId(deviceId: string): string {
  return sanitize(`hearth_${deviceId}`);
}

/** HA's node_id, object_id and component ids take [a-zA-Z0-9_-] only. */
export function sanitize(s: string): string {
  return s.replace(/[^a-zA-Z0-9_-]/g, '_');
}
