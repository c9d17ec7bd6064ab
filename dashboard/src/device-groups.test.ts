import { describe, expect, it } from '@jest/globals';
import { groupDevices, nameInRoom, roomOf } from './device-groups.js';

describe('roomOf', () => {
  it.each([
    ['Kitchen / Thermostat', 'Kitchen'],
    ["Ada's room: Lamp", "Ada's room"],
    ['Hall · Motion', 'Hall'],
    ['kitchen-thermostat', 'Kitchen'],
    ['Living room lamp', 'Living room'],
    ['living_room_plug', 'Living room'],
    ['Bedroom', 'Bedroom'],
    ['Thermostat', null],
    ['Kitchenette lamp', null],
    ['plug-7', null],
    ['/ lamp', null],
  ])('reads %j as %j', (name, room) => expect(roomOf(name)).toBe(room));
});

describe('groupDevices', () => {
  it('groups by room where the name has one, else by type; rooms first; sorted inside', () => {
    const devices = [
      { id: 't1', name: 'Thermostat', type: 'thermostat' },
      { id: 'k2', name: 'Kitchen / Plug', type: 'smart_plug' },
      { id: 'k1', name: 'Kitchen / Light', type: 'light' },
      { id: 'x', name: 'Mystery', type: '' },
      { id: 'p1', name: 'Plug B', type: 'smart_plug' },
      { id: 'p0', name: 'Plug A', type: 'smart_plug' },
      { id: 'b1', name: 'Bathroom fan', type: 'smart_plug' },
    ];
    const groups = groupDevices(devices);
    expect(groups.map((g) => [g.key, g.title, g.devices.map((d) => d.id)])).toEqual([
      ['room:bathroom', 'Bathroom', ['b1']],
      ['room:kitchen', 'Kitchen', ['k1', 'k2']],
      ['type:smart_plug', 'Smart plugs', ['p0', 'p1']],
      ['type:thermostat', 'Thermostats', ['t1']],
      ['type:', 'Other devices', ['x']],
    ]);
  });

  it('sorts names naturally, numbers by value', () => {
    const devices = ['Lamp 10', 'Lamp 2', 'lamp 1', 'Lamp 104'].map((name, i) => ({ id: `l${i}`, name, type: 'light' }));
    expect(groupDevices(devices)[0]!.devices.map((d) => d.name)).toEqual(['lamp 1', 'Lamp 2', 'Lamp 10', 'Lamp 104']);
  });

  it('puts every device in exactly one group', () => {
    const devices = Array.from({ length: 50 }, (_, i) => ({ id: `d${i}`, name: i % 3 ? `Office / d${i}` : `d${i}`, type: `t${i % 4}` }));
    const ids = groupDevices(devices).flatMap((g) => g.devices.map((d) => d.id));
    expect(ids.sort()).toEqual(devices.map((d) => d.id).sort());
  });
});

describe('nameInRoom', () => {
  it.each([
    ['Kitchen / Ceiling light', 'Kitchen', 'Ceiling light'],
    ['Kitchen: lamp', 'Kitchen', 'Lamp'],
    ['kitchen-thermostat', 'Kitchen', 'Thermostat'],
    ['Living room lamp', 'Living room', 'Lamp'],
    ['Bedroom', 'Bedroom', 'Bedroom'],
    ['Hall / Lamp', 'Kitchen', 'Hall / Lamp'],
  ])('shortens %j under %j to %j', (name, room, short) => expect(nameInRoom(name, room)).toBe(short));
});
