// Test support: Home Assistant's rules for MQTT discovery payloads, written down once from HA's documentation
// and source, so that a payload HA would refuse (or show wrongly) fails CI. Kept apart from the production
// vocabulary (hub/mqtt/discovery/ha-vocabulary.ts) on purpose: the two are checked against each other.
// Sources (HA core 2025.x):
//  - home-assistant.io/integrations/mqtt: device-based discovery (`dev`, `o` with `name`, `cmps` entries with
//    `p` and `unique_id`; shared availability), availability (a list of {topic, payload_available,
//    payload_not_available, value_template} or availability_topic, not both; availability_mode all|any|latest),
//    entity_category (config|diagnostic).
//  - components/mqtt/{sensor,binary_sensor,switch,number,select,text,event,light/schema_basic,climate}.py:
//    each platform's schema keys and required options; sensor.py validate_sensor_state_and_device_class_config
//    (options only with device_class enum and without state_class/unit; a unit must suit the device class).
//  - components/sensor/const.py: SensorDeviceClass, DEVICE_CLASS_UNITS, DEVICE_CLASS_STATE_CLASSES.
//  - const.py: UnitOf*, CONCENTRATION_MICROGRAMS_PER_CUBIC_METER = "μg/m³" with U+03BC (HA's pylint plugin
//    hass_enforce_greek_micro_char rejects U+00B5).
//  - components/binary_sensor, switch, event: their DeviceClass enums; sensor and binary_sensor refuse
//    entity_category config.
//  - home-assistant.io/integrations/update.mqtt and components/mqtt/update.py: state_topic (a version, or JSON
//    with installed_version, latest_version, title, release_summary, release_url, entity_picture, in_progress,
//    update_percentage), latest_version_topic/_template, command_topic with payload_install, title,
//    release_summary, release_url, entity_picture, display_precision, retain; components/update:
//    UpdateDeviceClass (firmware).

const MU = '\u03bc';
const UG = `${MU}g/m³`;
const PRESSURE = ['cbar', 'bar', 'hPa', 'mmHg', 'inHg', 'kPa', 'mbar', 'Pa', 'psi'];
const ENERGY = ['J', 'kJ', 'MJ', 'GJ', 'mWh', 'Wh', 'kWh', 'MWh', 'GWh', 'TWh', 'cal', 'kcal', 'Mcal', 'Gcal'];
const ALL_STATE_CLASSES = ['measurement', 'total', 'total_increasing'];

/** SensorDeviceClass -> allowed units (DEVICE_CLASS_UNITS; null = no unit). Classes absent here: any unit. */
export const HA_SENSOR_UNITS: Readonly<Record<string, readonly (string | null)[]>> = {
  apparent_power: ['VA', 'mVA', 'kVA'],
  aqi: [null],
  atmospheric_pressure: PRESSURE,
  battery: ['%'],
  carbon_dioxide: ['ppm'],
  carbon_monoxide: ['ppm', 'ppb', UG, 'mg/m³'],
  current: ['A', 'mA'],
  distance: ['km', 'm', 'cm', 'mm', 'mi', 'nmi', 'yd', 'in', 'ft'],
  duration: ['d', 'h', 'min', 's', 'ms', `${MU}s`],
  energy: ENERGY,
  energy_storage: ENERGY,
  frequency: ['Hz', 'kHz', 'MHz', 'GHz'],
  gas: ['m³', 'ft³', 'CCF', 'L'],
  humidity: ['%'],
  illuminance: ['lx'],
  moisture: ['%'],
  nitrogen_dioxide: [UG],
  nitrogen_monoxide: [UG],
  nitrous_oxide: [UG],
  ozone: [UG],
  ph: [null],
  pm1: [UG],
  pm10: [UG],
  pm25: [UG],
  power: ['mW', 'W', 'kW', 'MW', 'GW', 'TW', 'BTU/h'],
  power_factor: ['%', null],
  pressure: PRESSURE,
  reactive_power: ['var', 'kvar'],
  signal_strength: ['dB', 'dBm'],
  sound_pressure: ['dB', 'dBA'],
  sulphur_dioxide: [UG],
  temperature: ['°C', '°F', 'K'],
  volatile_organic_compounds: [UG, 'mg/m³'],
  volatile_organic_compounds_parts: ['ppm', 'ppb'],
  voltage: ['V', 'mV', `${MU}V`, 'kV', 'MV'],
  water: ['m³', 'ft³', 'CCF', 'gal', 'L'],
};

/** Every SensorDeviceClass (enum, timestamp, date included). */
export const HA_SENSOR_CLASSES: ReadonlySet<string> = new Set([
  ...Object.keys(HA_SENSOR_UNITS), 'area', 'blood_glucose_concentration', 'conductivity', 'data_rate', 'data_size',
  'date', 'energy_distance', 'enum', 'irradiance', 'monetary', 'precipitation', 'precipitation_intensity', 'speed',
  'timestamp', 'volume', 'volume_flow_rate', 'volume_storage', 'weight', 'wind_direction', 'wind_speed',
]);

/** DEVICE_CLASS_STATE_CLASSES where it is not just {measurement}. */
const HA_STATE_CLASSES: Readonly<Record<string, readonly string[]>> = {
  energy: ['total', 'total_increasing'],
  gas: ['total', 'total_increasing'],
  water: ['total', 'total_increasing'],
  monetary: ['total'],
  volume: ALL_STATE_CLASSES,
  data_size: ALL_STATE_CLASSES,
  distance: ALL_STATE_CLASSES,
  duration: ALL_STATE_CLASSES,
  precipitation: ALL_STATE_CLASSES,
  weight: ALL_STATE_CLASSES,
  enum: [],
  timestamp: [],
  date: [],
};

/** The state classes a sensor of `deviceClass` may carry (none given: any). */
export function haStateClasses(deviceClass: string | undefined): readonly string[] {
  if (deviceClass === undefined) return ALL_STATE_CLASSES;
  return HA_STATE_CLASSES[deviceClass] ?? ['measurement'];
}

export const HA_BINARY_SENSOR_CLASSES: ReadonlySet<string> = new Set([
  'battery', 'battery_charging', 'carbon_monoxide', 'cold', 'connectivity', 'door', 'garage_door', 'gas', 'heat',
  'light', 'lock', 'moisture', 'motion', 'moving', 'occupancy', 'opening', 'plug', 'power', 'presence', 'problem',
  'running', 'safety', 'smoke', 'sound', 'tamper', 'update', 'vibration', 'window',
]);
const SWITCH_CLASSES = new Set(['outlet', 'switch']);
const EVENT_CLASSES = new Set(['button', 'doorbell', 'motion']);
const UPDATE_CLASSES = new Set(['firmware']);
const CLIMATE_MODES = new Set(['auto', 'off', 'cool', 'heat', 'dry', 'fan_only', 'heat_cool']);

/** Options every MQTT entity takes (MQTT_ENTITY_COMMON_SCHEMA, availability, device, origin). */
const COMMON_KEYS = [
  'name', 'unique_id', 'object_id', 'default_entity_id', 'entity_category', 'icon', 'enabled_by_default',
  'availability', 'availability_mode', 'availability_topic', 'payload_available', 'payload_not_available',
  'device', 'origin', 'qos', 'encoding', 'json_attributes_topic', 'json_attributes_template',
];

/** The keys each platform's schema takes beyond the common ones, and the ones it requires. */
const PLATFORMS: Readonly<Record<string, { keys: string[]; required: string[] }>> = {
  sensor: {
    keys: ['state_topic', 'value_template', 'device_class', 'unit_of_measurement', 'state_class', 'options', 'expire_after', 'force_update', 'suggested_display_precision'],
    required: ['state_topic'],
  },
  binary_sensor: {
    keys: ['state_topic', 'value_template', 'device_class', 'payload_on', 'payload_off', 'expire_after', 'force_update', 'off_delay'],
    required: ['state_topic'],
  },
  switch: {
    keys: ['state_topic', 'value_template', 'command_topic', 'payload_on', 'payload_off', 'state_on', 'state_off', 'device_class', 'optimistic', 'retain'],
    required: ['command_topic'],
  },
  number: {
    keys: ['state_topic', 'value_template', 'command_topic', 'command_template', 'min', 'max', 'step', 'mode', 'unit_of_measurement', 'device_class', 'optimistic', 'retain'],
    required: ['command_topic'],
  },
  select: { keys: ['state_topic', 'value_template', 'command_topic', 'command_template', 'options', 'optimistic', 'retain'], required: ['command_topic', 'options'] },
  text: { keys: ['state_topic', 'value_template', 'command_topic', 'command_template', 'min', 'max', 'mode', 'pattern', 'retain'], required: ['command_topic'] },
  event: { keys: ['state_topic', 'value_template', 'event_types', 'device_class'], required: ['state_topic', 'event_types'] },
  light: {
    keys: [
      'schema', 'state_topic', 'state_value_template', 'value_template', 'command_topic', 'payload_on', 'payload_off',
      'brightness_command_topic', 'brightness_state_topic', 'brightness_value_template', 'brightness_scale', 'on_command_type', 'optimistic', 'retain',
    ],
    required: ['command_topic'],
  },
  update: {
    keys: [
      'state_topic', 'value_template', 'latest_version_topic', 'latest_version_template', 'command_topic', 'payload_install',
      'device_class', 'title', 'release_summary', 'release_url', 'entity_picture', 'display_precision', 'retain',
    ],
    required: [],
  },
  climate: {
    keys: [
      'current_temperature_topic', 'current_temperature_template', 'temperature_command_topic', 'temperature_state_topic',
      'temperature_state_template', 'mode_state_topic', 'mode_state_template', 'mode_command_topic', 'modes', 'min_temp',
      'max_temp', 'temp_step', 'temperature_unit', 'precision', 'optimistic', 'retain',
    ],
    required: [],
  },
};

const DEVICE_KEYS = new Set(['identifiers', 'connections', 'name', 'model', 'model_id', 'manufacturer', 'sw_version', 'hw_version', 'serial_number', 'via_device', 'configuration_url', 'suggested_area']);

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string' && v !== '';

/** Problems HA would have with one discovery message on `topic` under `prefix`; [] when HA takes it as meant. */
export function haDiscoveryProblems(prefix: string, topic: string, payload: unknown): string[] {
  const rest = topic.startsWith(`${prefix}/`) ? topic.slice(prefix.length + 1).split('/') : [];
  // <component>/[<node_id>/]<object_id>/config, ids in [a-zA-Z0-9_-] (HA's TOPIC_MATCHER).
  if (rest.length < 3 || rest.length > 4 || rest[rest.length - 1] !== 'config' || !rest.slice(1, -1).every((s) => /^[a-zA-Z0-9_-]+$/.test(s))) {
    return [`${topic}: not a discovery topic`];
  }
  if (!isObj(payload)) return [`${topic}: payload is not a JSON object`];
  const component = rest[0]!;
  if (component === 'device') return deviceProblems(topic, payload);
  return entityProblems(topic, component, payload, true);
}

function deviceProblems(topic: string, p: Json): string[] {
  const out: string[] = [];
  const allowed = new Set(['dev', 'o', 'cmps', 'availability', 'availability_mode', 'availability_topic', 'payload_available', 'payload_not_available', 'state_topic', 'command_topic', 'qos', 'encoding']);
  for (const k of Object.keys(p)) if (!allowed.has(k)) out.push(`${topic}: unknown device-level key ${k}`);
  out.push(...deviceBlockProblems(topic, p.dev), ...originProblems(topic, p.o), ...availabilityProblems(topic, p));
  if (!isObj(p.cmps) || Object.keys(p.cmps).length === 0) return [...out, `${topic}: cmps must be a non-empty mapping`];
  for (const [id, c] of Object.entries(p.cmps)) {
    const where = `${topic} cmps.${id}`;
    if (!/^[a-zA-Z0-9_-]+$/.test(id)) out.push(`${where}: component id outside [a-zA-Z0-9_-]`);
    if (!isObj(c) || !isStr(c.p)) {
      out.push(`${where}: needs p (platform)`);
      continue;
    }
    const { p: platform, ...rest } = c;
    if (Object.keys(rest).length === 0) continue; // {p} alone removes the component
    // Shared availability is inherited; the component is checked as HA assembles it.
    out.push(...entityProblems(where, platform, { ...rest, ...(p.availability ? { availability: p.availability, availability_mode: p.availability_mode } : {}) }, false));
  }
  return out;
}

function entityProblems(where: string, platform: string, c: Json, standalone: boolean): string[] {
  const out: string[] = [];
  const schema = PLATFORMS[platform];
  if (!schema) return [`${where}: platform ${platform} is not one Hearth is checked for`];
  const keys = new Set([...COMMON_KEYS, ...schema.keys]);
  for (const k of Object.keys(c)) if (!keys.has(k)) out.push(`${where}: ${platform} takes no ${k}`);
  for (const k of schema.required) if (c[k] === undefined) out.push(`${where}: ${platform} requires ${k}`);
  if (!isStr(c.unique_id)) out.push(`${where}: unique_id required`);
  if ('name' in c && c.name !== null && !isStr(c.name)) out.push(`${where}: name must be a string or null`);
  if (typeof c.name === 'string' && /^(Co2|Pm25|Pm10|On)$/.test(c.name)) out.push(`${where}: name ${c.name} is not a proper name`);
  if (c.entity_category !== undefined && !['config', 'diagnostic'].includes(String(c.entity_category))) out.push(`${where}: bad entity_category`);
  if (c.entity_category === 'config' && (platform === 'sensor' || platform === 'binary_sensor')) out.push(`${where}: ${platform} cannot be entity_category config`);
  if (standalone) {
    out.push(...deviceBlockProblems(where, c.device), ...originProblems(where, c.origin));
  }
  out.push(...availabilityProblems(where, c));
  const dc = c.device_class as string | undefined;
  const unit = c.unit_of_measurement as string | undefined;
  switch (platform) {
    case 'sensor': {
      if (dc !== undefined && !HA_SENSOR_CLASSES.has(dc)) out.push(`${where}: unknown sensor device_class ${dc}`);
      if (c.options !== undefined) {
        if (dc !== undefined && dc !== 'enum') out.push(`${where}: options only with device_class enum`);
        if (!Array.isArray(c.options) || c.options.length === 0 || !c.options.every(isStr)) out.push(`${where}: options must be non-empty strings`);
        if (c.state_class !== undefined || unit !== undefined) out.push(`${where}: options exclude state_class and unit`);
      }
      if (dc === 'enum' && c.options === undefined) out.push(`${where}: device_class enum needs options`);
      if (dc !== undefined && HA_SENSOR_UNITS[dc] && !HA_SENSOR_UNITS[dc]!.includes(unit ?? null)) out.push(`${where}: unit ${unit} not valid for ${dc}`);
      if (c.state_class !== undefined && !haStateClasses(dc).includes(String(c.state_class))) out.push(`${where}: state_class ${String(c.state_class)} not valid for ${dc}`);
      break;
    }
    case 'number':
      if (dc !== undefined && (!HA_SENSOR_CLASSES.has(dc) || ['enum', 'timestamp', 'date'].includes(dc))) out.push(`${where}: unknown number device_class ${dc}`);
      if (dc !== undefined && HA_SENSOR_UNITS[dc] && !HA_SENSOR_UNITS[dc]!.includes(unit ?? null)) out.push(`${where}: unit ${unit} not valid for ${dc}`);
      if (typeof c.min === 'number' && typeof c.max === 'number' && !(c.min < c.max)) out.push(`${where}: min must be below max`);
      if (c.step !== undefined && !(typeof c.step === 'number' && c.step >= 0.001)) out.push(`${where}: step below 0.001`);
      if (c.mode !== undefined && !['auto', 'box', 'slider'].includes(String(c.mode))) out.push(`${where}: bad mode`);
      break;
    case 'binary_sensor':
      if (dc !== undefined && !HA_BINARY_SENSOR_CLASSES.has(dc)) out.push(`${where}: unknown binary_sensor device_class ${dc}`);
      if (c.payload_on !== undefined && c.payload_on === c.payload_off) out.push(`${where}: payload_on equals payload_off`);
      break;
    case 'switch':
      if (dc !== undefined && !SWITCH_CLASSES.has(dc)) out.push(`${where}: unknown switch device_class ${dc}`);
      break;
    case 'event':
      if (dc !== undefined && !EVENT_CLASSES.has(dc)) out.push(`${where}: unknown event device_class ${dc}`);
      if (!Array.isArray(c.event_types) || c.event_types.length === 0 || !c.event_types.every(isStr)) out.push(`${where}: event_types must be non-empty strings`);
      break;
    case 'select':
      if (!Array.isArray(c.options) || c.options.length === 0) out.push(`${where}: select needs options`);
      break;
    case 'text':
      if (c.max !== undefined && !(typeof c.max === 'number' && c.max <= 255)) out.push(`${where}: text max above 255`);
      break;
    case 'light':
      if (c.brightness_scale !== undefined && !(Number.isInteger(c.brightness_scale) && (c.brightness_scale as number) >= 1)) out.push(`${where}: brightness_scale must be an int >= 1`);
      break;
    case 'update':
      if (dc !== undefined && !UPDATE_CLASSES.has(dc)) out.push(`${where}: unknown update device_class ${dc}`);
      if (c.state_topic === undefined && c.latest_version_topic === undefined) out.push(`${where}: update needs state_topic or latest_version_topic`);
      if (c.payload_install !== undefined && c.command_topic === undefined) out.push(`${where}: payload_install needs command_topic`);
      break;
    case 'climate':
      if (Array.isArray(c.modes) && !c.modes.every((m) => CLIMATE_MODES.has(String(m)))) out.push(`${where}: bad climate modes`);
      if (c.temperature_unit !== undefined && !['C', 'F'].includes(String(c.temperature_unit))) out.push(`${where}: temperature_unit C or F`);
      if (typeof c.min_temp === 'number' && typeof c.max_temp === 'number' && !(c.min_temp < c.max_temp)) out.push(`${where}: min_temp must be below max_temp`);
      break;
  }
  return out;
}

function deviceBlockProblems(where: string, d: unknown): string[] {
  if (!isObj(d)) return [`${where}: device required`];
  const out: string[] = [];
  for (const k of Object.keys(d)) if (!DEVICE_KEYS.has(k)) out.push(`${where}: device takes no ${k}`);
  const ids = d.identifiers;
  if (!(isStr(ids) || (Array.isArray(ids) && ids.length > 0 && ids.every(isStr))) && d.connections === undefined) out.push(`${where}: device needs identifiers or connections`);
  if (d.configuration_url !== undefined && !/^(https?:\/\/[^/\s]+|homeassistant:\/\/)/.test(String(d.configuration_url))) out.push(`${where}: configuration_url must be an http(s) URL`);
  if (d.via_device !== undefined && !isStr(d.via_device)) out.push(`${where}: via_device must be an identifier`);
  return out;
}

function originProblems(where: string, o: unknown): string[] {
  if (o === undefined) return [];
  return isObj(o) && isStr(o.name) ? [] : [`${where}: origin needs a name`];
}

function availabilityProblems(where: string, c: Json): string[] {
  const out: string[] = [];
  if (c.availability !== undefined && c.availability_topic !== undefined) out.push(`${where}: availability and availability_topic exclude each other`);
  if (c.availability !== undefined) {
    const list = c.availability;
    if (!Array.isArray(list) || list.length === 0) out.push(`${where}: availability must be a non-empty list`);
    else {
      for (const a of list) {
        if (!isObj(a) || !isStr(a.topic)) out.push(`${where}: each availability needs a topic`);
        else for (const k of Object.keys(a)) if (!['topic', 'payload_available', 'payload_not_available', 'value_template'].includes(k)) out.push(`${where}: availability takes no ${k}`);
      }
    }
  }
  if (c.availability_mode !== undefined && !['all', 'any', 'latest'].includes(String(c.availability_mode))) out.push(`${where}: bad availability_mode`);
  return out;
}
