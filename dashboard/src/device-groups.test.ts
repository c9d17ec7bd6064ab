import { describe, expect, it } from '@jest/globals';
import { groupDevices, nameInRoom, roomsOf } from './device-groups.js';

describe('groupDevices', () => {
  it('groups by the device\'s room, rooms sorted, devices without a room under "Other", last', () => {
    const devices = [
      { id: 't1', name: 'Thermostat', room: null },
      { id: 'k2', name: 'Plug', room: 'Kitchen' },
      { id: 'k1', name: 'Light', room: 'kitchen' },
      { id: 'x', name: 'Mystery' },
      { id: 'b1', name: 'Fan', room: 'Bathroom' },
      { id: 'blank', name: 'Blank', room: '  ' },
    ];
    expect(groupDevices(devices).map((g) => [g.key, g.title, g.devices.map((d) => d.id)])).toEqual([
      ['room:bathroom', 'Bathroom', ['b1']],
      ['room:kitchen', 'Kitchen', ['k1', 'k2']],
      ['other', 'Other', ['blank', 'x', 't1']],
    ]);
  });

  it('sorts names naturally, numbers by value', () => {
    const devices = ['Lamp 10', 'Lamp 2', 'lamp 1', 'Lamp 104'].map((name, i) => ({ id: `l${i}`, name, room: 'Hall' }));
    expect(groupDevices(devices)[0]!.devices.map((d) => d.name)).toEqual(['lamp 1', 'Lamp 2', 'Lamp 10', 'Lamp 104']);
  });

  it('puts every device in exactly one group', () => {
    const devices = Array.from({ length: 50 }, (_, i) => ({ id: `d${i}`, name: `d${i}`, room: i % 3 ? `Room ${i % 5}` : null }));
    const ids = groupDevices(devices).flatMap((g) => g.devices.map((d) => d.id));
    expect(ids.sort()).toEqual(devices.map((d) => d.id).sort());
  });
});

describe('nameInRoom and roomsOf', () => {
  it.each([
    ['Kitchen / Lamp', 'Kitchen', 'Lamp'],
    ['kitchen-lamp', 'Kitchen', 'Lamp'],
    ['Living room lamp', 'Living room', 'Lamp'],
    ['Kitchen', 'Kitchen', 'Kitchen'],
    ['Lamp', 'Kitchen', 'Lamp'],
  ])('shows %j under %j as %j', (name, room, shown) => expect(nameInRoom(name, room)).toBe(shown));

  it('lists the rooms in use once each', () => {
    expect(roomsOf([{ id: 'a', name: 'a', room: 'Kitchen' }, { id: 'b', name: 'b', room: 'kitchen' }, { id: 'c', name: 'c', room: 'Attic' }, { id: 'd', name: 'd' }])).toEqual(['Attic', 'Kitchen']);
  });
});
