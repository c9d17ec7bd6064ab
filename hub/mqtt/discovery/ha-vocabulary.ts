// The Home Assistant words Hearth's discovery uses: device classes per platform, the units HA spells for each
// sensor class, and which state class a class takes. From HA core: homeassistant/const.py (UnitOf*,
// CONCENTRATION_*), components/sensor/const.py (SensorDeviceClass, DEVICE_CLASS_UNITS,
// DEVICE_CLASS_STATE_CLASSES), components/binary_sensor/__init__.py (BinarySensorDeviceClass),
// components/switch, components/event. hub/mqtt/testing/ha-schema.ts holds HA's rules separately, so a slip here
// fails the schema test rather than passing it by construction.

/** BinarySensorDeviceClass. */
export const BINARY_SENSOR_CLASSES: ReadonlySet<string> = new Set([
  'battery', 'battery_charging', 'carbon_monoxide', 'cold', 'connectivity', 'door', 'garage_door', 'gas', 'heat',
  'light', 'lock', 'moisture', 'motion', 'moving', 'occupancy', 'opening', 'plug', 'power', 'presence', 'problem',
  'running', 'safety', 'smoke', 'sound', 'tamper', 'update', 'vibration', 'window',
]);

/** Names devices use for a binary class HA spells otherwise (Zigbee2MQTT's contact, water_leak). */
export const BINARY_CLASS_ALIASES: Readonly<Record<string, string>> = {
  contact: 'door',
  leak: 'moisture',
  water_leak: 'moisture',
  pir: 'motion',
};

/** SwitchDeviceClass. */
export const SWITCH_CLASSES: ReadonlySet<string> = new Set(['outlet', 'switch']);

/** EventDeviceClass: momentary things, which stay events. */
export const EVENT_CLASSES: ReadonlySet<string> = new Set(['button', 'doorbell', 'motion']);

const MICRO = '\u03bc'; // HA's constants use GREEK SMALL LETTER MU (pylint hass_enforce_greek_micro_char)
const UG_M3 = `${MICRO}g/m³`;
const PRESSURE = ['cbar', 'bar', 'hPa', 'mmHg', 'inHg', 'kPa', 'mbar', 'Pa', 'psi'];
const ENERGY = ['J', 'kJ', 'MJ', 'GJ', 'mWh', 'Wh', 'kWh', 'MWh', 'GWh', 'TWh', 'cal', 'kcal', 'Mcal', 'Gcal'];

/** DEVICE_CLASS_UNITS for the sensor classes Hearth maps; `null` in a list: no unit is also right. */
export const SENSOR_CLASS_UNITS: Readonly<Record<string, readonly (string | null)[]>> = {
  apparent_power: ['VA', 'mVA', 'kVA'],
  aqi: [null],
  atmospheric_pressure: PRESSURE,
  battery: ['%'],
  carbon_dioxide: ['ppm'],
  carbon_monoxide: ['ppm', 'ppb', UG_M3, 'mg/m³'],
  current: ['A', 'mA'],
  distance: ['km', 'm', 'cm', 'mm', 'mi', 'nmi', 'yd', 'in', 'ft'],
  duration: ['d', 'h', 'min', 's', 'ms', `${MICRO}s`],
  energy: ENERGY,
  frequency: ['Hz', 'kHz', 'MHz', 'GHz'],
  gas: ['m³', 'ft³', 'CCF', 'L'],
  humidity: ['%'],
  illuminance: ['lx'],
  moisture: ['%'],
  nitrogen_dioxide: [UG_M3],
  ozone: [UG_M3],
  ph: [null],
  pm1: [UG_M3],
  pm10: [UG_M3],
  pm25: [UG_M3],
  power: ['mW', 'W', 'kW', 'MW', 'GW', 'TW', 'BTU/h'],
  power_factor: ['%', null],
  pressure: PRESSURE,
  signal_strength: ['dB', 'dBm'],
  sound_pressure: ['dB', 'dBA'],
  temperature: ['°C', '°F', 'K'],
  volatile_organic_compounds: [UG_M3, 'mg/m³'],
  volatile_organic_compounds_parts: ['ppm', 'ppb'],
  voltage: ['V', 'mV', `${MICRO}V`, 'kV', 'MV'],
  water: ['m³', 'ft³', 'CCF', 'gal', 'L'],
};

/** Classes whose statistics want a growing total (DEVICE_CLASS_STATE_CLASSES allows no `measurement`). */
export const TOTAL_INCREASING_CLASSES: ReadonlySet<string> = new Set(['energy', 'gas', 'water']);

/** Classes HA files under diagnostics (entity_category), like Zigbee2MQTT's battery and linkquality. */
export const DIAGNOSTIC_CLASSES: ReadonlySet<string> = new Set(['battery', 'signal_strength']);
export const DIAGNOSTIC_NAMES: ReadonlySet<string> = new Set(['battery', 'rssi', 'linkquality', 'signal', 'signal_strength']);

// Spellings devices send for a unit HA spells otherwise; µ (U+00B5 MICRO SIGN) is the common slip.
const UNIT_SPELLINGS: Readonly<Record<string, string>> = {
  'µg/m³': UG_M3,
  'ug/m3': UG_M3,
  'ug/m³': UG_M3,
  [`${MICRO}g/m3`]: UG_M3,
  'µg/m3': UG_M3,
  'mg/m3': 'mg/m³',
  'µs': `${MICRO}s`,
  us: `${MICRO}s`,
  'µV': `${MICRO}V`,
  C: '°C',
  F: '°F',
  '℃': '°C',
  '℉': '°F',
  kwh: 'kWh',
  wh: 'Wh',
  m3: 'm³',
  lux: 'lx',
};

/** The unit as Home Assistant spells it (µg/m³ -> μg/m³, C -> °C); others unchanged. */
export function haUnit(unit: string): string {
  return UNIT_SPELLINGS[unit] ?? UNIT_SPELLINGS[unit.toLowerCase()] ?? unit;
}

// Words a generated name spells in capitals or otherwise (no "Co2", "Pm25").
const PROPER_WORDS: Readonly<Record<string, string>> = {
  co: 'CO', co2: 'CO₂', pm1: 'PM1', pm10: 'PM10', pm25: 'PM2.5', voc: 'VOC', tvoc: 'TVOC', rssi: 'RSSI', uv: 'UV',
  id: 'ID', ip: 'IP', led: 'LED', hvac: 'HVAC', ph: 'pH', aqi: 'AQI', no2: 'NO₂', o3: 'O₃',
};

/** A readable name for a capability name: `pm25` -> `PM2.5`, `target_temp` -> `Target temp`. */
export function properName(name: string): string {
  const words = name.split(/[_\s-]+/).filter((w) => w !== '');
  return words
    .map((w, i) => PROPER_WORDS[w.toLowerCase()] ?? (i === 0 ? w.charAt(0).toUpperCase() + w.slice(1) : w))
    .join(' ');
}
