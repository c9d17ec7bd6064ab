// Every discovery payload the hub publishes, checked against Home Assistant's rules for its platform
// (hub/mqtt/testing/ha-schema.ts), for a mixed fleet of every simulator model, in both discovery modes and on
// the wire of a real bridge; and each model's capabilities in HA's terms (platform, class, unit, state).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MODELS } from '../../device-sim/models/index.js';
import { eventually } from '../../test/support/eventually.js';
import type { DeviceInfo } from '../events.js';
import { DISCOVERY_MODES, bridgeDiscovery, discoveryFor, type DeviceDiscoveryConfig, type DiscoveryEntry } from './discovery.js';
import { BridgeFixture } from './testing/bridge-fixture.js';
import { haDiscoveryProblems } from './testing/ha-schema.js';
import { record, waitForMessage } from './testing/mqtt-test-kit.js';
import { device } from './testing/sample-devices.js';
import { Topics } from './topics.js';

const topics = new Topics('hearth', 'homeassistant');
const HUB = 'https://hub.local:8443';

/** One device per simulator model, as the registry knows it after its HELLO. */
// Every simulator model accepts firmware updates: each also has an update entity [FP-14.1].
const FLEET: DeviceInfo[] = Object.values(MODELS).map((m) =>
  device({ id: `sim-${m.name}`, name: `Sim ${m.name}`, type: m.name, model: m.model, firmware: m.firmware, capabilities: [...m.capabilities], updatable: true }),
);

const problemsOf = (entries: DiscoveryEntry[]) => entries.flatMap((e) => haDiscoveryProblems('homeassistant', e.topic, JSON.parse(JSON.stringify(e.config))));

describe.each(DISCOVERY_MODES)('HA schema, discoveryMode %s', (mode) => {
  const opts = { mode, hubVersion: '1.2.3', hubUrl: HUB };

  it('every payload for every simulator model is valid for its platform', () => {
    const entries = FLEET.flatMap((d) => discoveryFor(d, topics, opts));
    expect(entries.length).toBeGreaterThanOrEqual(mode === 'device' ? FLEET.length : 12);
    expect(problemsOf(entries)).toEqual([]);
  });

  it("the hub's own device is valid too", () => {
    const entries = bridgeDiscovery(topics, opts);
    expect(entries.length).toBeGreaterThan(0);
    expect(problemsOf(entries)).toEqual([]);
  });

  it('every capability of every model is shown by some entity', () => {
    for (const d of FLEET) {
      const shown = new Set(discoveryFor(d, topics, opts).flatMap((e) => e.capabilities));
      expect({ device: d.id, missing: d.capabilities.map((c) => c.name).filter((n) => !shown.has(n)) }).toEqual({ device: d.id, missing: [] });
    }
  });
});

/** The fleet's entities in HA's terms, from the device-based configs: `<device>.<component id>` -> fields. */
function fleetEntities(): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const d of FLEET) {
    const [entry] = discoveryFor(d, topics, { hubUrl: HUB });
    for (const [key, c] of Object.entries((entry!.config as DeviceDiscoveryConfig).cmps)) out.set(`${d.type}.${key}`, c as Record<string, unknown>);
  }
  return out;
}

describe('the simulator fleet in Home Assistant terms', () => {
  const entities = fleetEntities();
  // Written from HA's entity docs: what a user of each device expects to see.
  const EXPECTED: Record<string, Record<string, unknown>> = {
    'thermostat.climate': { p: 'climate', name: null, temperature_unit: 'C', current_temperature_topic: 'hearth/sim-thermostat/temperature' },
    'thermostat.temperature': { p: 'sensor', device_class: 'temperature', unit_of_measurement: '°C', state_class: 'measurement' },
    'thermostat.humidity': { p: 'sensor', device_class: 'humidity', unit_of_measurement: '%', state_class: 'measurement' },
    'light.on': { p: 'light', name: null, brightness_scale: 100, brightness_state_topic: 'hearth/sim-light/brightness' },
    'smart_plug.on': { p: 'switch', name: null, state_topic: 'hearth/sim-smart_plug/on', payload_on: 'ON' },
    'smart_plug.power': { p: 'sensor', device_class: 'power', unit_of_measurement: 'W', state_class: 'measurement' },
    'smart_plug.energy': { p: 'sensor', device_class: 'energy', unit_of_measurement: 'kWh', state_class: 'total_increasing' },
    'motion_sensor.motion': { p: 'binary_sensor', device_class: 'motion', state_topic: 'hearth/sim-motion_sensor/motion', payload_on: 'ON', payload_off: 'OFF' },
    'motion_sensor.battery': { p: 'sensor', device_class: 'battery', unit_of_measurement: '%', entity_category: 'diagnostic' },
    'door_contact.contact': { p: 'binary_sensor', device_class: 'door', state_topic: 'hearth/sim-door_contact/contact', payload_on: 'open', payload_off: 'closed' },
    'door_contact.battery': { p: 'sensor', device_class: 'battery', unit_of_measurement: '%', entity_category: 'diagnostic' },
    'air_quality.co2': { p: 'sensor', device_class: 'carbon_dioxide', unit_of_measurement: 'ppm', state_class: 'measurement' },
    // HA's CONCENTRATION_MICROGRAMS_PER_CUBIC_METER: GREEK SMALL LETTER MU, though the model declares MICRO SIGN.
    'air_quality.pm25': { p: 'sensor', device_class: 'pm25', unit_of_measurement: '\u03bcg/m³', state_class: 'measurement' },
    // HA's update entity: firmware versions and progress from one JSON state, an Install button [FP-14].
    ...Object.fromEntries(
      Object.values(MODELS).map((m) => [
        `${m.name}.firmware`,
        { p: 'update', device_class: 'firmware', entity_category: 'config', state_topic: `hearth/sim-${m.name}/update`, command_topic: `hearth/sim-${m.name}/update/install`, payload_install: 'install', title: m.model },
      ]),
    ),
  };

  it.each(Object.entries(EXPECTED))('%s', (key, expected) => {
    expect(entities.get(key)).toMatchObject(expected);
  });

  it('no other entities, and entities with a device class leave the name to HA', () => {
    expect([...entities.keys()].sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const [key, c] of entities) {
      if (c.device_class !== undefined && c.p !== 'climate') expect({ key, named: 'name' in c }).toEqual({ key, named: false });
    }
  });

  it('momentary capabilities stay events', () => {
    const button = device({ id: 'b1', capabilities: [{ id: 1, name: 'press', unit: '', valueType: 'enum', deviceClass: 'button', writable: false, event: true, options: ['single', 'double'] }] });
    const [entry] = discoveryFor(button, topics);
    expect((entry!.config as DeviceDiscoveryConfig).cmps.press).toMatchObject({ p: 'event', device_class: 'button', event_types: ['single', 'double'] });
  });
});

describe('the update platform rules refuse what HA refuses', () => {
  it('an update entity with an unknown device class, without state, or with payload_install but no command_topic', () => {
    const base = { unique_id: 'u1', device: { identifiers: ['x'] } };
    const check = (c: Record<string, unknown>) => haDiscoveryProblems('homeassistant', 'homeassistant/update/x/fw/config', { ...base, ...c });
    expect(check({ state_topic: 's', command_topic: 'c', payload_install: 'install', device_class: 'firmware' })).toEqual([]);
    expect(check({ state_topic: 's', device_class: 'software' })).toEqual([expect.stringContaining('unknown update device_class software')]);
    expect(check({ command_topic: 'c' })).toEqual([expect.stringContaining('needs state_topic or latest_version_topic')]);
    expect(check({ state_topic: 's', payload_install: 'install' })).toEqual([expect.stringContaining('payload_install needs command_topic')]);
  });
});

describe('the schema rules refuse what HA refuses', () => {
  const [entry] = discoveryFor(FLEET.find((d) => d.type === 'air_quality')!, topics, { hubUrl: HUB });
  const good = JSON.parse(JSON.stringify(entry!.config)) as DeviceDiscoveryConfig & Record<string, unknown>;
  const broken = (edit: (c: any) => void) => {
    const c = JSON.parse(JSON.stringify(good));
    edit(c);
    return haDiscoveryProblems('homeassistant', entry!.topic, c);
  };

  it('accepts the unedited payload', () => expect(haDiscoveryProblems('homeassistant', entry!.topic, good)).toEqual([]));
  it.each([
    ['MICRO SIGN instead of mu', (c: any) => (c.cmps.pm25.unit_of_measurement = 'µg/m³'), /unit µg\/m³ not valid for pm25/],
    ['a unit the class does not take', (c: any) => (c.cmps.co2.unit_of_measurement = '%'), /not valid for carbon_dioxide/],
    ['options without enum', (c: any) => (c.cmps.co2.options = ['a']), /options only with device_class enum/],
    ['a state class the class does not take', (c: any) => (c.cmps.co2.state_class = 'total_increasing'), /state_class total_increasing/],
    ['no unique_id', (c: any) => delete c.cmps.co2.unique_id, /unique_id required/],
    ['no platform', (c: any) => delete c.cmps.co2.p, /needs p/],
    ['no origin name', (c: any) => (c.o = {}), /origin needs a name/],
    ['two availability forms', (c: any) => (c.availability_topic = 'x'), /exclude each other/],
    ['an unknown key', (c: any) => (c.cmps.co2.stat_class = 'measurement'), /takes no stat_class/],
    ['a non-proper name', (c: any) => (c.cmps.co2.name = 'Co2'), /not a proper name/],
    ['config category on a sensor', (c: any) => (c.cmps.co2.entity_category = 'config'), /cannot be entity_category config/],
  ])('%s', (_what, edit, problem) => {
    expect(broken(edit).join('\n')).toMatch(problem);
  });
});

describe('on the wire: a real bridge with the simulator fleet', () => {
  const fx = new BridgeFixture();
  beforeAll(async () => {
    for (const d of FLEET) fx.facade.upsertDevice(d);
    await fx.open({ allowAnonymous: true, anonymousRole: 'admin', hubUrl: HUB, hubVersion: '9.9.9' });
  });
  afterAll(() => fx.close());

  it('every retained discovery message is valid, one per device plus the hub', async () => {
    const client = await fx.client(null);
    const got = record(client);
    await client.subscribeAsync('homeassistant/#');
    const expected = [...FLEET.map((d) => `homeassistant/device/hearth_${d.id.replace(/[^a-zA-Z0-9_-]/g, '_')}/config`), 'homeassistant/device/hearth_bridge_hearth/config'];
    await eventually(() => expected.every((t) => got.some((m) => m.topic === t)), { timeoutMs: 5000, what: 'every device config' });
    expect(got.filter((m) => m.retain).map((m) => m.topic).sort()).toEqual(expected.sort());
    const configs = got.filter((m) => m.payload !== '');
    expect(configs.flatMap((m) => haDiscoveryProblems('homeassistant', m.topic, JSON.parse(m.payload)))).toEqual([]);
    // The empty ones clear per-entity configs an earlier run may have left (mode switch, upgrade).
    expect(got.filter((m) => m.payload === '' && !/^homeassistant\/(?!device\/)[a-z_]+\/hearth_[^/]+\/[^/]+\/config$/.test(m.topic))).toEqual([]);
    const bridge = JSON.parse(got.find((m) => m.topic.endsWith('hearth_bridge_hearth/config'))!.payload);
    expect(bridge.dev).toMatchObject({ identifiers: ['hearth_bridge_hearth'], sw_version: '9.9.9', configuration_url: `${HUB}/#/hub` });
    const motion = JSON.parse(got.find((m) => m.topic.endsWith('hearth_sim-motion_sensor/config'))!.payload);
    expect(motion.dev).toMatchObject({ via_device: 'hearth_bridge_hearth', configuration_url: `${HUB}/#/device/sim-motion_sensor` });
    expect(motion.o).toEqual({ name: 'Hearth', sw: '9.9.9' });
  });

  it('a motion event keeps its state retained for the binary_sensor', async () => {
    fx.facade.pushEvents('sim-motion_sensor', [{ name: 'motion', value: { type: 'bool', value: true }, ts: 1000 }]);
    fx.facade.pushEvents('sim-door_contact', [{ name: 'contact', value: { type: 'enum', value: 1 }, ts: 1000 }]);
    await fx.bridge.idle();
    const client = await fx.client(null);
    const got = record(client);
    await client.subscribeAsync(['hearth/sim-motion_sensor/motion', 'hearth/sim-door_contact/contact']);
    const motion = await waitForMessage(got, 'hearth/sim-motion_sensor/motion');
    const door = await waitForMessage(got, 'hearth/sim-door_contact/contact');
    expect([motion.payload, motion.retain, door.payload, door.retain]).toEqual(['ON', true, 'open', true]);
  });
});
