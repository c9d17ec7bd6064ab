import { describe, expect, it } from '@jest/globals';
import { parseCommandPayload } from './command-payload.js';
import { SAMPLE_CAPS as C } from './testing/sample-devices.js';
import { RETAINED, Topics, encodePayload, isTopicSafeId } from './topics.js';

const t = new Topics('hearth', 'homeassistant');
const bytes = (s: string) => new TextEncoder().encode(s);

describe('topic tree', () => {
  it('builds every topic from base, device and metric', () => {
    expect(t.state('d1')).toBe('hearth/d1/state');
    expect(t.metric('d1', 'temperature')).toBe('hearth/d1/temperature');
    expect(t.availability('d1')).toBe('hearth/d1/availability');
    expect(t.event('d1', 'button')).toBe('hearth/d1/event/button');
    expect(t.set('d1', 'setpoint')).toBe('hearth/d1/set/setpoint');
    expect(t.setResult('d1', 'setpoint')).toBe('hearth/d1/set/setpoint/result');
    expect(t.bridgeState()).toBe('hearth/bridge/state');
    expect(t.bridgeDevices()).toBe('hearth/bridge/devices');
    expect(t.discovery('sensor', 'hearth_d1', 'temperature')).toBe('homeassistant/sensor/hearth_d1/temperature/config');
  });

  it('reserved metric names have no plain topic', () => {
    for (const name of ['state', 'availability', 'event', 'set', 'readings']) expect(t.metric('d1', name)).toBeNull();
  });

  it('parses command topics only', () => {
    expect(t.parse('hearth/d1/set/on')).toEqual({ kind: 'set', device: 'd1', command: 'on' });
    expect(t.parse('hearth/d1/set/on/result')).toBeNull();
    expect(t.parse('hearth/d1/on')).toBeNull();
    expect(t.parse('other/d1/set/on')).toBeNull();
    expect(t.parse('hearth/bridge/set/on')).toBeNull();
    expect(t.parse('hearth/d1/set/')).toBeNull();
    expect(new Topics('a/b').parse('a/b/d1/set/x')).toEqual({ kind: 'set', device: 'd1', command: 'x' });
  });

  it('refuses device ids that cannot be one topic level', () => {
    expect(isTopicSafeId('kitchen-1')).toBe(true);
    for (const bad of ['', 'bridge', 'a/b', 'a+', 'a#', '$sys']) expect(isTopicSafeId(bad)).toBe(false);
  });

  it('encodes metrics as plain values (valueToMqtt), the rest as JSON or as-is', () => {
    expect(encodePayload({ kind: 'metric', topic: 'x', payload: false })).toBe('OFF');
    expect(encodePayload({ kind: 'metric', topic: 'x', payload: 21.5 })).toBe('21.5');
    expect(encodePayload({ kind: 'metric', topic: 'x', payload: true })).toBe('ON');
    expect(encodePayload({ kind: 'availability', topic: 'x', payload: 'offline' })).toBe('offline');
    expect(encodePayload({ kind: 'state', topic: 'x', payload: { t: { value: 1, ts: 2 } } })).toBe('{"t":{"value":1,"ts":2}}');
    expect(encodePayload({ kind: 'discovery', topic: 'x', payload: null })).toBe('');
  });

  it('retains state, metrics, availability, bridge state/devices/info/canary and discovery topics; not events, health or responses', () => {
    expect(Object.entries(RETAINED).filter(([, r]) => r).map(([k]) => k).sort()).toEqual(
      ['availability', 'bridgeCanary', 'bridgeDevices', 'bridgeInfo', 'bridgeState', 'discovery', 'hubCanary', 'hubState', 'metric', 'state', 'update'].sort(),
    );
  });

  it('parses bridge requests and the Home Assistant status topic, and nothing under bridge/response', () => {
    expect(t.parse('hearth/bridge/request/device/rename')).toEqual({ kind: 'bridgeRequest', verb: 'device/rename' });
    expect(t.parse('hearth/bridge/request/devices')).toEqual({ kind: 'bridgeRequest', verb: 'devices' });
    expect(t.parse('hearth/bridge/request/')).toBeNull();
    expect(t.parse('hearth/bridge/response/devices')).toBeNull();
    expect(t.parse('hearth/bridge/info')).toBeNull();
    expect(t.parse('homeassistant/status')).toEqual({ kind: 'discoveryStatus' });
  });
});

describe('command payloads', () => {
  it('takes plain values, JSON values and {"value": ...}', () => {
    expect(parseCommandPayload(C.setpoint, bytes('21.5'))).toEqual({ ok: true, input: 21.5 });
    expect(parseCommandPayload(C.on, bytes('ON'))).toEqual({ ok: true, input: 'ON' });
    expect(parseCommandPayload(C.on, bytes('true'))).toEqual({ ok: true, input: true });
    expect(parseCommandPayload(C.setpoint, bytes('{"value": 19}'))).toEqual({ ok: true, input: 19 });
    expect(parseCommandPayload(C.mode, bytes('comfort'))).toEqual({ ok: true, input: 'comfort' });
  });

  it('keeps text for string and enum capabilities', () => {
    expect(parseCommandPayload(C.label, bytes('123'))).toEqual({ ok: true, input: '123' });
    expect(parseCommandPayload(C.label, bytes('"quoted"'))).toEqual({ ok: true, input: 'quoted' });
    expect(parseCommandPayload(C.mode, bytes('{"value": 1}'))).toEqual({ ok: true, input: 1 });
  });

  it('names the problem of a malformed payload', () => {
    const problem = (s: Uint8Array) => {
      const r = parseCommandPayload(C.setpoint, s);
      return r.ok ? null : r.problem;
    };
    expect(problem(bytes(''))).toMatch(/empty payload/);
    expect(problem(bytes('{"val": 1}'))).toMatch(/needs a "value" field/);
    expect(problem(bytes('[1,2]'))).toMatch(/must be a value/);
    expect(problem(bytes('null'))).toMatch(/must be a value/);
    expect(problem(new Uint8Array([0xff, 0xfe]))).toMatch(/not valid UTF-8/);
    expect(problem(new Uint8Array(5000).fill(0x31))).toMatch(/larger than/);
  });
});
