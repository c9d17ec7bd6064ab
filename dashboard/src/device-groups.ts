// The home view groups tiles by room when a device's name says which room it is in, else by device type.
import { typeHeading } from './format.js';

const ROOMS = [
  'living room', 'dining room', 'guest room', 'kids room', 'master bedroom', 'bedroom', 'bathroom', 'kitchen',
  'lounge', 'hallway', 'hall', 'entrance', 'office', 'study', 'garage', 'garden', 'cellar', 'basement', 'attic',
  'laundry', 'utility room', 'porch', 'balcony', 'nursery', 'toilet', 'landing', 'patio', 'terrace', 'workshop',
];
/** `Ada's room / Lamp`, `Kitchen: Lamp`, `Kitchen · Lamp`: any room name before an explicit separator. */
const SEPARATOR = /^\s*([^/:·]+?)\s*[/:·]\s*\S/;

export interface GroupableDevice {
  id: string;
  name: string;
  type: string;
}

export interface DeviceGroup<D extends GroupableDevice> {
  /** Stable key: `room:<room>` or `type:<type>`. */
  key: string;
  title: string;
  /** The room, for room groups. */
  room: string | null;
  devices: D[];
}

/** The room a device name starts with (`Kitchen / Lamp`, `kitchen-thermostat`, `Living room lamp`), else null. */
export function roomOf(name: string): string | null {
  const explicit = SEPARATOR.exec(name);
  if (explicit) return capitalize(explicit[1]!.trim());
  const words = name.toLowerCase().replace(/[_-]+/g, ' ').replace(/\s+/g, ' ').trim();
  for (const room of ROOMS) {
    if (words === room || words.startsWith(`${room} `)) return capitalize(room);
  }
  return null;
}

/** A name without the room it starts with, for a tile under that room's heading: `Kitchen / Lamp` -> `Lamp`. */
export function nameInRoom(name: string, room: string): string {
  const explicit = SEPARATOR.exec(name);
  if (explicit && explicit[1]!.trim().toLowerCase() === room.toLowerCase()) return capitalize(name.slice(name.search(/[/:·]/) + 1).trim());
  const words = name.replace(/[_-]+/g, ' ').replace(/\s+/g, ' ').trim();
  if (words.toLowerCase().startsWith(`${room.toLowerCase()} `)) return capitalize(words.slice(room.length + 1));
  return name;
}

/** Devices grouped by room (when their name has one) or type; rooms first, each part sorted by title and name. */
export function groupDevices<D extends GroupableDevice>(devices: readonly D[]): DeviceGroup<D>[] {
  const groups = new Map<string, DeviceGroup<D>>();
  for (const device of devices) {
    const room = roomOf(device.name);
    const key = room ? `room:${room.toLowerCase()}` : `type:${device.type.toLowerCase()}`;
    let group = groups.get(key);
    if (!group) {
      group = { key, title: room ?? typeHeading(device.type), room, devices: [] };
      groups.set(key, group);
    }
    group.devices.push(device);
  }
  const rank = (g: DeviceGroup<D>) => (g.key.startsWith('room:') ? 0 : g.key === 'type:' ? 2 : 1);
  const out = [...groups.values()].sort((a, b) => rank(a) - rank(b) || a.title.localeCompare(b.title));
  // Natural order: "Lamp 2" before "Lamp 10".
  const natural = (a: string, b: string) => a.localeCompare(b, undefined, { numeric: true, sensitivity: 'base' });
  for (const g of out) g.devices.sort((a, b) => natural(a.name, b.name) || a.id.localeCompare(b.id));
  return out;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
