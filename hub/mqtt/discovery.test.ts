import { describe, expect, it } from '@jest/globals';
import { bridgeDiscovery, discoveryFor, eventHasState, type DeviceDiscoveryConfig, type DiscoveryEntry, type EntityDiscoveryConfig } from './discovery.js';
import { SAMPLE_CAPS as C, cap, device } from './testing/sample-devices.js';
import { Topics } from './topics.js';

const topics = new Topics('hearth', 'homeassistant');

type EntityEntry = DiscoveryEntry & { config: EntityDiscoveryConfig };

/** Per-entity discovery (mqtt.discoveryMode: entity): one config per entity, each with its device block. */
const perEntity = (d: Parameters<typeof discoveryFor>[0], t: Topics = topics) => discoveryFor(d, t, { mode: 'entity' }) as EntityEntry[];

function byComponent(entries: EntityEntry[], component: string, capName?: string): EntityEntry {
  const e = entries.find((x) => x.component === component && (capName === undefined || x.capabilities.includes(capName)));
  if (!e) throw new Error(`no ${component} for ${capName}: ${entries.map((x) => x.component).join(', ')}`);
  return e;
}

/** name undefined: the config has no `name`, so HA names the entity after its device class. */
function expectCommon(e: EntityEntry, deviceId: string, key: string, name: string | null | undefined): void {
  const c = e.config;
  expect(e.topic).toBe(`homeassistant/${e.component}/hearth_${deviceId}/${key}/config`);
  if (name === undefined) expect('name' in c).toBe(false);
  else expect(c.name).toBe(name);
  expect(c.unique_id).toBe(`hearth_${deviceId}_${key}`);
  expect(c.object_id).toBe(`${deviceId}_${key}`);
  expect(c.default_entity_id).toBe(`${e.component}.${deviceId}_${key}`);
  expect(c.availability).toEqual([
    { topic: `hearth/${deviceId}/availability`, payload_available: 'online', payload_not_available: 'offline' },
    { topic: 'hearth/bridge/state', payload_available: 'online', payload_not_available: 'offline' },
  ]);
  expect(c.availability_mode).toBe('all');
  expect(c.device).toEqual({
    identifiers: [`hearth_${deviceId}`],
    name: `Name of ${deviceId}`,
    model: 'M-1',
    sw_version: '2.3.4',
    manufacturer: 'Hearth',
    via_device: 'hearth_bridge_hearth',
  });
}

const dev = (id: string, type: string, caps = [] as (typeof C)[keyof typeof C][]) =>
  device({ id, name: `Name of ${id}`, type, model: 'M-1', firmware: '2.3.4', capabilities: caps });

describe('Home Assistant discovery', () => {
  it('thermostat: one climate entity plus a temperature sensor; setpoint folded into climate', () => {
    const entries = perEntity(dev('th1', 'thermostat', [C.temperature, C.setpoint]), topics);
    expect(entries.map((e) => e.component).sort()).toEqual(['climate', 'sensor']);
    const climate = byComponent(entries, 'climate');
    expectCommon(climate, 'th1', 'climate', null);
    expect(climate.config).toMatchObject({
      current_temperature_topic: 'hearth/th1/temperature',
      temperature_command_topic: 'hearth/th1/set/setpoint',
      temperature_state_topic: 'hearth/th1/setpoint',
      modes: ['heat'],
      mode_state_topic: 'hearth/th1/setpoint',
      mode_state_template: 'heat',
      min_temp: 5,
      max_temp: 30,
      temp_step: 0.5,
      temperature_unit: 'C',
    });
    const sensor = byComponent(entries, 'sensor', 'temperature');
    expectCommon(sensor, 'th1', 'temperature', undefined);
    expect(sensor.config).toMatchObject({
      state_topic: 'hearth/th1/temperature',
      device_class: 'temperature',
      unit_of_measurement: '°C',
      state_class: 'measurement',
    });
    expect(sensor.config.command_topic).toBeUndefined();
  });

  it('light with brightness: one light entity, default schema, brightness_scale 100', () => {
    const entries = perEntity(dev('lamp1', 'light', [C.on, C.brightness]), topics);
    expect(entries).toHaveLength(1);
    const light = byComponent(entries, 'light');
    expectCommon(light, 'lamp1', 'on', null);
    expect(light.config).toMatchObject({
      state_topic: 'hearth/lamp1/on',
      command_topic: 'hearth/lamp1/set/on',
      payload_on: 'ON',
      payload_off: 'OFF',
      brightness_command_topic: 'hearth/lamp1/set/brightness',
      brightness_state_topic: 'hearth/lamp1/brightness',
      brightness_scale: 100,
    });
    expect(light.config.value_template).toBeUndefined();
  });

  it("writable bool on a non-light: switch with ON/OFF, the device's own name when it is its one switch", () => {
    const e = byComponent(perEntity(dev('plug1', 'plug', [C.on]), topics), 'switch');
    expectCommon(e, 'plug1', 'on', null);
    expect(e.config).toMatchObject({ state_topic: 'hearth/plug1/on', command_topic: 'hearth/plug1/set/on', payload_on: 'ON', payload_off: 'OFF' });
    expect(e.config.device_class).toBeUndefined();
  });

  it('read-only bool: binary_sensor with its device class', () => {
    const e = byComponent(perEntity(dev('pir1', 'motion', [C.motion]), topics), 'binary_sensor');
    expectCommon(e, 'pir1', 'motion', undefined);
    expect(e.config).toMatchObject({ state_topic: 'hearth/pir1/motion', payload_on: 'ON', payload_off: 'OFF', device_class: 'motion' });
    expect(e.config.command_topic).toBeUndefined();
  });

  it('energy sensor: total_increasing', () => {
    const e = byComponent(perEntity(dev('meter1', 'meter', [C.energy]), topics), 'sensor');
    expect(e.config).toMatchObject({ device_class: 'energy', unit_of_measurement: 'kWh', state_class: 'total_increasing' });
  });

  it('writable number: number with min, max, step and unit', () => {
    const e = byComponent(perEntity(dev('dim1', 'dimmer', [C.brightness]), topics), 'number');
    expectCommon(e, 'dim1', 'brightness', 'Brightness');
    expect(e.config).toMatchObject({
      state_topic: 'hearth/dim1/brightness',
      command_topic: 'hearth/dim1/set/brightness',
      min: 0,
      max: 100,
      step: 1,
      mode: 'auto',
      unit_of_measurement: '%',
    });
    const float = byComponent(perEntity(dev('x', 'x', [C.setpoint]), topics), 'number');
    expect(float.config.step).toBe(0.1);
  });

  it('enum: sensor with device_class enum when read-only, select when writable', () => {
    const entries = perEntity(dev('hv1', 'hvac', [C.status, C.mode]), topics);
    const sensor = byComponent(entries, 'sensor', 'status');
    expect(sensor.config).toMatchObject({ state_topic: 'hearth/hv1/status', device_class: 'enum', options: ['idle', 'heating'] });
    expect(sensor.config.state_class).toBeUndefined();
    expect(sensor.config.unit_of_measurement).toBeUndefined();
    const select = byComponent(entries, 'select', 'mode');
    expectCommon(select, 'hv1', 'mode', 'Mode');
    expect(select.config).toMatchObject({ state_topic: 'hearth/hv1/mode', command_topic: 'hearth/hv1/set/mode', options: ['eco', 'comfort', 'away'] });
  });

  it('event capability: event entity with event_types and a template producing event_type', () => {
    const e = byComponent(perEntity(dev('btn1', 'button', [C.button]), topics), 'event');
    expectCommon(e, 'btn1', 'button', undefined);
    expect(e.config).toMatchObject({
      state_topic: 'hearth/btn1/event/button',
      event_types: ['single', 'double', 'long'],
      value_template: '{"event_type": {{ value_json.value | tojson }}}',
      device_class: 'button',
    });
  });

  it('string: text when writable, plain sensor when read-only', () => {
    const ro = cap({ name: 'note', valueType: 'string' });
    const entries = perEntity(dev('s1', 'x', [C.label, ro]), topics);
    expect(byComponent(entries, 'text', 'label').config).toMatchObject({ command_topic: 'hearth/s1/set/label', max: 255 });
    const sensor = byComponent(entries, 'sensor', 'note');
    expect(sensor.config.state_class).toBeUndefined();
    expect(sensor.config.device_class).toBeUndefined();
  });

  it('a device class Home Assistant does not know is left out rather than breaking the config', () => {
    const odd = cap({ name: 'level', valueType: 'float', deviceClass: 'sparkle' });
    const e = byComponent(perEntity(dev('o1', 'x', [odd]), topics), 'sensor');
    expect(e.config.device_class).toBeUndefined();
  });

  it('a metric named like a fixed topic (state) reads the JSON state topic through a template', () => {
    const stateCap = cap({ name: 'state', valueType: 'bool' });
    const e = byComponent(perEntity(dev('r1', 'x', [stateCap]), topics), 'binary_sensor');
    expect(e.config.state_topic).toBe('hearth/r1/state');
    expect(e.config.value_template).toBe("{{ 'ON' if value_json['state'].value else 'OFF' }}");
  });

  it('uses the configured prefix and base topic', () => {
    const [e] = perEntity(dev('p1', 'plug', [C.on]), new Topics('home/hub2', 'ha'));
    expect(e!.config.device.via_device).toBe('hearth_bridge_home_hub2');
    expect(e!.topic).toBe('ha/switch/hearth_p1/on/config');
    expect(e!.config.command_topic).toBe('home/hub2/p1/set/on');
    expect(e!.config.availability[1]!.topic).toBe('home/hub2/bridge/state');
  });
});

describe('device-based discovery (the default)', () => {
  const th = dev('th1', 'thermostat', [C.temperature, C.setpoint, C.status]);

  it('one config per device at <prefix>/device/<node>/config with dev, o and cmps; availability shared', () => {
    const entries = discoveryFor(th, topics, { hubVersion: '1.2.3', hubUrl: 'https://hub.local:8443' });
    expect(entries).toHaveLength(1);
    const [e] = entries as [DiscoveryEntry & { config: DeviceDiscoveryConfig }];
    expect(e.topic).toBe('homeassistant/device/hearth_th1/config');
    expect(e.component).toBe('device');
    expect(e.capabilities.sort()).toEqual(['setpoint', 'status', 'temperature']);
    expect(e.config.o).toEqual({ name: 'Hearth', sw: '1.2.3' });
    expect(e.config.dev).toEqual({
      identifiers: ['hearth_th1'],
      name: 'Name of th1',
      model: 'M-1',
      sw_version: '2.3.4',
      manufacturer: 'Hearth',
      via_device: 'hearth_bridge_hearth',
      configuration_url: 'https://hub.local:8443/#/device/th1',
    });
    expect(e.config.availability.map((a) => a.topic)).toEqual(['hearth/th1/availability', 'hearth/bridge/state']);
    expect(e.config.availability_mode).toBe('all');
    expect(Object.keys(e.config.cmps).sort()).toEqual(['climate', 'status', 'temperature']);
    // The same entity options as the per-entity config, without the per-entity device, origin and availability.
    const { device: _d, origin: _o, availability: _a, availability_mode: _m, ...fields } = byComponent(perEntity(th), 'sensor', 'temperature').config;
    expect(e.config.cmps.temperature).toEqual({ p: 'sensor', ...fields });
  });

  it('a component gone since the last publish is sent as its platform alone; it is not repeated after', () => {
    const [first] = discoveryFor(th, topics);
    const previous = new Map([[first!.topic, first!.config]]);
    const [second] = discoveryFor({ ...th, capabilities: [C.temperature, C.setpoint] }, topics, { previous });
    expect((second!.config as DeviceDiscoveryConfig).cmps.status).toEqual({ p: 'sensor' });
    const [third] = discoveryFor({ ...th, capabilities: [C.temperature, C.setpoint] }, topics, { previous: new Map([[second!.topic, second!.config]]) });
    expect('status' in (third!.config as DeviceDiscoveryConfig).cmps).toBe(false);
  });

  it("clearOtherMode: first clears the other mode's configs of the same entities", () => {
    const entries = discoveryFor(th, topics, { clearOtherMode: true });
    expect(entries.map((e) => [e.topic, e.config === null])).toEqual([
      ['homeassistant/climate/hearth_th1/climate/config', true],
      ['homeassistant/sensor/hearth_th1/temperature/config', true],
      ['homeassistant/sensor/hearth_th1/status/config', true],
      ['homeassistant/device/hearth_th1/config', false],
    ]);
    const perEntityFirst = discoveryFor(th, topics, { mode: 'entity', clearOtherMode: true });
    expect(perEntityFirst[0]).toEqual({ component: 'device', capabilities: [], topic: 'homeassistant/device/hearth_th1/config', config: null });
    expect(perEntityFirst.slice(1).every((e) => e.config !== null)).toBe(true);
  });

  it('a device with no capability yet has no config', () => {
    expect(discoveryFor(dev('new1', 'x', []), topics)).toEqual([]);
    expect(discoveryFor(dev('new1', 'x', []), topics, { mode: 'entity' })).toEqual([]);
  });

  it('configuration_url escapes the device id and is left out without a hub URL', () => {
    const [e] = discoveryFor(dev('a b', 'x', [C.motion]), topics, { hubUrl: 'https://h:1' });
    expect((e!.config as DeviceDiscoveryConfig).dev.configuration_url).toBe('https://h:1/#/device/a%20b');
    const [bare] = discoveryFor(dev('a', 'x', [C.motion]), topics);
    expect('configuration_url' in (bare!.config as DeviceDiscoveryConfig).dev).toBe(false);
  });
});

describe('entities as Home Assistant users expect them', () => {
  const cmps = (caps: (typeof C)[keyof typeof C][], type = 'x') => (discoveryFor(dev('d1', type, caps), topics)[0]!.config as DeviceDiscoveryConfig).cmps;

  it('a motion or door state reported as events is a binary_sensor on the retained metric topic', () => {
    const motion = cap({ name: 'motion', valueType: 'bool', deviceClass: 'motion', event: true });
    const door = cap({ name: 'contact', valueType: 'enum', deviceClass: 'door', event: true, options: ['closed', 'open'] });
    const leak = cap({ name: 'leak', valueType: 'bool', deviceClass: 'water_leak', event: true });
    const c = cmps([motion, door, leak]);
    expect(c.motion).toMatchObject({ p: 'binary_sensor', device_class: 'motion', state_topic: 'hearth/d1/motion', payload_on: 'ON', payload_off: 'OFF' });
    expect(c.contact).toMatchObject({ p: 'binary_sensor', device_class: 'door', state_topic: 'hearth/d1/contact', payload_on: 'open', payload_off: 'closed' });
    expect(c.leak).toMatchObject({ p: 'binary_sensor', device_class: 'moisture' });
    expect([motion, door, leak, C.button].map(eventHasState)).toEqual([true, true, true, false]);
  });

  it('the "on" option of a two-state enum is found whichever order the options come in', () => {
    const win = cap({ name: 'window', valueType: 'enum', deviceClass: 'window', options: ['open', 'closed'] });
    expect(cmps([win]).window).toMatchObject({ payload_on: 'open', payload_off: 'closed' });
  });

  it('battery and signal are diagnostic; units in HA spelling; names proper where HA has no class name', () => {
    const battery = cap({ name: 'battery', valueType: 'int', unit: '%', deviceClass: 'battery' });
    const rssi = cap({ name: 'rssi', valueType: 'int', unit: 'dBm', deviceClass: 'signal_strength' });
    const pm = cap({ name: 'pm25', valueType: 'float', unit: '\u00b5g/m³', deviceClass: 'pm25' });
    const co2 = cap({ name: 'co2', valueType: 'float', unit: 'ppm' });
    const c = cmps([battery, rssi, pm, co2]);
    expect(c.battery).toMatchObject({ entity_category: 'diagnostic', device_class: 'battery' });
    expect(c.rssi).toMatchObject({ entity_category: 'diagnostic', device_class: 'signal_strength' });
    expect(c.pm25).toMatchObject({ unit_of_measurement: '\u03bcg/m³', device_class: 'pm25' });
    expect('name' in c.pm25!).toBe(false);
    expect(c.co2).toMatchObject({ name: 'CO₂' });
  });

  it('a unit the device class does not take drops the class rather than breaking the config', () => {
    const odd = cap({ name: 'temp', valueType: 'float', unit: 'furlongs', deviceClass: 'temperature' });
    const c = cmps([odd]);
    expect(c.temp).toMatchObject({ p: 'sensor', name: 'Temp', unit_of_measurement: 'furlongs', state_class: 'measurement' });
    expect('device_class' in c.temp!).toBe(false);
  });

  it('two entities of one class on a device get their own names', () => {
    const inside = cap({ name: 'inside_temp', valueType: 'float', unit: '°C', deviceClass: 'temperature' });
    const outside = cap({ name: 'outside_temp', valueType: 'float', unit: '°C', deviceClass: 'temperature' });
    const c = cmps([inside, outside]);
    expect([c.inside_temp, c.outside_temp].map((x) => (x as { name?: string }).name)).toEqual(['Inside temp', 'Outside temp']);
  });
});

describe('the hub as a device', () => {
  it('its entities read bridge/health and bridge/info, available with bridge/state', () => {
    const [e] = bridgeDiscovery(topics, { hubVersion: '1.2.3', hubUrl: 'https://hub.local:8443' });
    const c = e!.config as DeviceDiscoveryConfig;
    expect(e!.topic).toBe('homeassistant/device/hearth_bridge_hearth/config');
    expect(c.dev).toMatchObject({ identifiers: ['hearth_bridge_hearth'], sw_version: '1.2.3', configuration_url: 'https://hub.local:8443/#/hub' });
    expect(c.availability).toEqual([{ topic: 'hearth/bridge/state', payload_available: 'online', payload_not_available: 'offline' }]);
    expect(c.cmps.devices_online).toMatchObject({ p: 'sensor', state_topic: 'hearth/bridge/health', value_template: '{{ value_json.devicesOnline }}' });
    expect(c.cmps.readings_per_second).toMatchObject({ unit_of_measurement: 'readings/s', value_template: '{{ value_json.readingsPerSecond }}' });
    expect(c.cmps.version).toMatchObject({ state_topic: 'hearth/bridge/info', value_template: '{{ value_json.version }}', entity_category: 'diagnostic' });
    expect(c.cmps.storage).toMatchObject({ p: 'binary_sensor', device_class: 'problem' });
  });

  it('per-entity mode: one config per hub entity', () => {
    const entries = bridgeDiscovery(topics, { mode: 'entity' });
    expect(entries.map((e) => e.topic)).toContain('homeassistant/sensor/hearth_bridge_hearth/devices_online/config');
  });
});
