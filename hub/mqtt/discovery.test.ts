import { describe, expect, it } from '@jest/globals';
import { discoveryFor, type DiscoveryEntry } from './discovery.js';
import { SAMPLE_CAPS as C, cap, device } from './testing/sample-devices.js';
import { Topics } from './topics.js';

const topics = new Topics('hearth', 'homeassistant');

function byComponent(entries: DiscoveryEntry[], component: string, capName?: string): DiscoveryEntry {
  const e = entries.find((x) => x.component === component && (capName === undefined || x.capabilities.includes(capName)));
  if (!e) throw new Error(`no ${component} for ${capName}: ${entries.map((x) => x.component).join(', ')}`);
  return e;
}

function expectCommon(e: DiscoveryEntry, deviceId: string, key: string, name: string | null): void {
  const c = e.config;
  expect(e.topic).toBe(`homeassistant/${e.component}/hearth_${deviceId}/${key}/config`);
  expect(c.name).toBe(name);
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
  });
}

const dev = (id: string, type: string, caps = [] as (typeof C)[keyof typeof C][]) =>
  device({ id, name: `Name of ${id}`, type, model: 'M-1', firmware: '2.3.4', capabilities: caps });

describe('Home Assistant discovery', () => {
  it('thermostat: one climate entity plus a temperature sensor; setpoint folded into climate', () => {
    const entries = discoveryFor(dev('th1', 'thermostat', [C.temperature, C.setpoint]), topics);
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
    expectCommon(sensor, 'th1', 'temperature', 'Temperature');
    expect(sensor.config).toMatchObject({
      state_topic: 'hearth/th1/temperature',
      device_class: 'temperature',
      unit_of_measurement: '°C',
      state_class: 'measurement',
    });
    expect(sensor.config.command_topic).toBeUndefined();
  });

  it('light with brightness: one light entity, default schema, brightness_scale 100', () => {
    const entries = discoveryFor(dev('lamp1', 'light', [C.on, C.brightness]), topics);
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

  it('writable bool on a non-light: switch with ON/OFF', () => {
    const e = byComponent(discoveryFor(dev('plug1', 'plug', [C.on]), topics), 'switch');
    expectCommon(e, 'plug1', 'on', 'On');
    expect(e.config).toMatchObject({ state_topic: 'hearth/plug1/on', command_topic: 'hearth/plug1/set/on', payload_on: 'ON', payload_off: 'OFF' });
    expect(e.config.device_class).toBeUndefined();
  });

  it('read-only bool: binary_sensor with its device class', () => {
    const e = byComponent(discoveryFor(dev('pir1', 'motion', [C.motion]), topics), 'binary_sensor');
    expectCommon(e, 'pir1', 'motion', 'Motion');
    expect(e.config).toMatchObject({ state_topic: 'hearth/pir1/motion', payload_on: 'ON', payload_off: 'OFF', device_class: 'motion' });
    expect(e.config.command_topic).toBeUndefined();
  });

  it('energy sensor: total_increasing', () => {
    const e = byComponent(discoveryFor(dev('meter1', 'meter', [C.energy]), topics), 'sensor');
    expect(e.config).toMatchObject({ device_class: 'energy', unit_of_measurement: 'kWh', state_class: 'total_increasing' });
  });

  it('writable number: number with min, max, step and unit', () => {
    const e = byComponent(discoveryFor(dev('dim1', 'dimmer', [C.brightness]), topics), 'number');
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
    const float = byComponent(discoveryFor(dev('x', 'x', [C.setpoint]), topics), 'number');
    expect(float.config.step).toBe(0.1);
  });

  it('enum: sensor with device_class enum when read-only, select when writable', () => {
    const entries = discoveryFor(dev('hv1', 'hvac', [C.status, C.mode]), topics);
    const sensor = byComponent(entries, 'sensor', 'status');
    expect(sensor.config).toMatchObject({ state_topic: 'hearth/hv1/status', device_class: 'enum', options: ['idle', 'heating'] });
    expect(sensor.config.state_class).toBeUndefined();
    expect(sensor.config.unit_of_measurement).toBeUndefined();
    const select = byComponent(entries, 'select', 'mode');
    expectCommon(select, 'hv1', 'mode', 'Mode');
    expect(select.config).toMatchObject({ state_topic: 'hearth/hv1/mode', command_topic: 'hearth/hv1/set/mode', options: ['eco', 'comfort', 'away'] });
  });

  it('event capability: event entity with event_types and a template producing event_type', () => {
    const e = byComponent(discoveryFor(dev('btn1', 'button', [C.button]), topics), 'event');
    expectCommon(e, 'btn1', 'button', 'Button');
    expect(e.config).toMatchObject({
      state_topic: 'hearth/btn1/event/button',
      event_types: ['single', 'double', 'long'],
      value_template: '{"event_type": {{ value_json.value | tojson }}}',
      device_class: 'button',
    });
  });

  it('string: text when writable, plain sensor when read-only', () => {
    const ro = cap({ name: 'note', valueType: 'string' });
    const entries = discoveryFor(dev('s1', 'x', [C.label, ro]), topics);
    expect(byComponent(entries, 'text', 'label').config).toMatchObject({ command_topic: 'hearth/s1/set/label', max: 255 });
    const sensor = byComponent(entries, 'sensor', 'note');
    expect(sensor.config.state_class).toBeUndefined();
    expect(sensor.config.device_class).toBeUndefined();
  });

  it('a device class Home Assistant does not know is left out rather than breaking the config', () => {
    const odd = cap({ name: 'level', valueType: 'float', deviceClass: 'sparkle' });
    const e = byComponent(discoveryFor(dev('o1', 'x', [odd]), topics), 'sensor');
    expect(e.config.device_class).toBeUndefined();
  });

  it('a metric named like a fixed topic (state) reads the JSON state topic through a template', () => {
    const stateCap = cap({ name: 'state', valueType: 'bool' });
    const e = byComponent(discoveryFor(dev('r1', 'x', [stateCap]), topics), 'binary_sensor');
    expect(e.config.state_topic).toBe('hearth/r1/state');
    expect(e.config.value_template).toBe("{{ 'ON' if value_json['state'].value else 'OFF' }}");
  });

  it('uses the configured prefix and base topic', () => {
    const [e] = discoveryFor(dev('p1', 'plug', [C.on]), new Topics('home/hub2', 'ha'));
    expect(e!.topic).toBe('ha/switch/hearth_p1/on/config');
    expect(e!.config.command_topic).toBe('home/hub2/p1/set/on');
    expect(e!.config.availability[1]!.topic).toBe('home/hub2/bridge/state');
  });
});
