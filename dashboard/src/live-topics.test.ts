import { describe, expect, it } from '@jest/globals';
import { Topics } from '../../hub/mqtt/topics.js';
import { liveSubscriptions, parseDevices, parseLiveMessage } from './live-topics.js';

const topics = new Topics('hearth');

describe('liveSubscriptions', () => {
  it('follows devices, state, availability, events and command results', () => {
    expect(liveSubscriptions(topics)).toEqual([
      'hearth/bridge/devices',
      'hearth/bridge/event',
      'hearth/+/state',
      'hearth/+/availability',
      'hearth/+/event/+',
      'hearth/+/set/+/result',
    ]);
  });
});

describe('parseLiveMessage', () => {
  const parse = (topic: string, text: string) => parseLiveMessage('hearth', topic, text);

  it('reads each followed topic', () => {
    expect(parse(topics.state('t1'), '{"temperature":{"value":21.5,"ts":5}}')).toEqual({
      kind: 'state',
      device: 't1',
      state: { temperature: { value: 21.5, ts: 5 } },
    });
    expect(parse(topics.availability('t1'), 'offline')).toEqual({ kind: 'availability', device: 't1', availability: 'offline' });
    expect(parse(topics.event('door', 'contact'), '{"value":"open","ts":9}')).toEqual({
      kind: 'event',
      device: 'door',
      name: 'contact',
      event: { value: 'open', ts: 9 },
    });
    expect(parse(topics.setResult('lamp', 'on'), '{"id":3,"status":"failed","message":"stuck"}')).toEqual({
      kind: 'setResult',
      device: 'lamp',
      command: 'on',
      result: { id: 3, status: 'failed', message: 'stuck' },
    });
    expect(parse(topics.setResult('lamp', 'on'), '{"id":null,"status":"invalid","message":"x"}')).toMatchObject({ result: { id: null } });
    expect(parse(topics.bridgeState(), 'online')).toEqual({ kind: 'bridgeState', state: 'online' });
    expect(parse(topics.bridgeEvent(), '{"type":"device_connected","data":{"id":"lamp","name":"Lamp"}}')).toEqual({
      kind: 'bridgeEvent',
      event: { type: 'device_connected', data: { id: 'lamp', name: 'Lamp' } },
    });
    expect(parse(topics.bridgeEvent(), '{"type":"device_exploded","data":{"id":"lamp"}}')).toBeNull();
    expect(parse(topics.bridgeEvent(), '{"type":"device_left","data":{}}')).toBeNull();
  });

  it('reads the devices list, dropping malformed entries and filling optional fields', () => {
    const text = JSON.stringify([
      { id: 'a', name: 'A', type: 't', model: 'm', firmware: 'f', room: 'Attic', online: true, lastSeen: 5, capabilities: [
        { name: 'x', valueType: 'float', unit: 'W', deviceClass: 'power', writable: false, event: false, min: 0, max: 10 },
        { name: 'bad', valueType: 'complex' },
      ] },
      { id: 'b', capabilities: [{ name: 'mode', valueType: 'enum', options: ['a', 'b'], writable: true }] },
      { name: 'no id', capabilities: [] },
      42,
    ]);
    expect(parse(topics.bridgeDevices(), text)).toEqual({
      kind: 'devices',
      devices: [
        { id: 'a', name: 'A', type: 't', model: 'm', firmware: 'f', room: 'Attic', online: true, lastSeen: 5, capabilities: [
          { name: 'x', valueType: 'float', unit: 'W', deviceClass: 'power', writable: false, event: false, min: 0, max: 10 },
        ] },
        { id: 'b', name: 'b', type: '', model: '', firmware: '', room: null, online: false, lastSeen: null, capabilities: [
          { name: 'mode', valueType: 'enum', unit: '', deviceClass: '', writable: true, event: false, options: ['a', 'b'] },
        ] },
      ],
    });
    expect(parseDevices({ not: 'a list' })).toBeNull();
  });

  it('drops state entries that are not {value, ts} and keeps the rest', () => {
    expect(parse(topics.state('t1'), '{"a":{"value":1,"ts":2},"b":{"value":null,"ts":2},"c":{"value":1},"d":5}')).toEqual({
      kind: 'state',
      device: 't1',
      state: { a: { value: 1, ts: 2 } },
    });
  });

  it.each([
    ['other/t1/state', '{}'],
    ['hearth/t1/state', 'not json'],
    ['hearth/t1/state', ''],
    ['hearth/t1/state', '[1]'],
    ['hearth/t1/availability', 'maybe'],
    ['hearth/t1/temperature', '21.5'],
    ['hearth/t1/event/motion', '{"value":true}'],
    ['hearth/t1/set/on', 'ON'],
    ['hearth/t1/set/on/result', '{"id":1,"status":"great","message":""}'],
    ['hearth/bridge/devices', '{}'],
    ['hearth/bridge/state', 'sleepy'],
    ['hearth//state', '{}'],
    ['hearth/bridge/devices/extra', '[]'],
  ])('ignores %s with %j', (topic, text) => {
    expect(parse(topic, text)).toBeNull();
  });
});
