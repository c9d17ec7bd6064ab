// The home view groups tiles by the room each device is in (PATCH /api/devices/:id, the bridge request
// device/rename, or the page's own "Room" field); devices without a room go under "Other", last.

/** `Ada's room / Lamp`, `Kitchen: Lamp`, `Kitchen · Lamp`: a room name before an explicit separator. */
const SEPARATOR = /^\s*([^/:·]+?)\s*[/:·]\s*\S/;

/** The heading of the devices that have no room. */
export const OTHER_ROOM = 'Other';

export interface GroupableDevice {
  id: string;
  name: string;
  room?: string | null;
}

export interface DeviceGroup<D extends GroupableDevice> {
  /** Stable key: `room:<room, lower case>`, or `other`. */
  key: string;
  title: string;
  /** The room, null for "Other". */
  room: string | null;
  devices: D[];
}

/** A name without the room it starts with, for a tile under that room's heading: `Kitchen / Lamp` -> `Lamp`. */
export function nameInRoom(name: string, room: string): string {
  const explicit = SEPARATOR.exec(name);
  if (explicit && explicit[1]!.trim().toLowerCase() === room.toLowerCase()) return capitalize(name.slice(name.search(/[/:·]/) + 1).trim());
  const words = name.replace(/[_-]+/g, ' ').replace(/\s+/g, ' ').trim();
  if (words.toLowerCase().startsWith(`${room.toLowerCase()} `) && words.length > room.length + 1) return capitalize(words.slice(room.length + 1));
  return name;
}

/** Devices grouped by room (rooms compared without case), sorted by room, "Other" last, names in natural order. */
export function groupDevices<D extends GroupableDevice>(devices: readonly D[]): DeviceGroup<D>[] {
  const groups = new Map<string, DeviceGroup<D>>();
  for (const device of devices) {
    const room = device.room?.trim() ? device.room.trim() : null;
    const key = room ? `room:${room.toLowerCase()}` : 'other';
    let group = groups.get(key);
    if (!group) {
      group = { key, title: room ?? OTHER_ROOM, room, devices: [] };
      groups.set(key, group);
    }
    group.devices.push(device);
  }
  const out = [...groups.values()].sort((a, b) => Number(a.room === null) - Number(b.room === null) || a.title.localeCompare(b.title));
  // Natural order: "Lamp 2" before "Lamp 10".
  const natural = (a: string, b: string) => a.localeCompare(b, undefined, { numeric: true, sensitivity: 'base' });
  for (const g of out) g.devices.sort((a, b) => natural(a.name, b.name) || a.id.localeCompare(b.id));
  return out;
}

/** The rooms in use, sorted: suggestions for the room fields. */
export function roomsOf(devices: readonly GroupableDevice[]): string[] {
  const seen = new Map<string, string>();
  for (const d of devices) if (d.room?.trim() && !seen.has(d.room.trim().toLowerCase())) seen.set(d.room.trim().toLowerCase(), d.room.trim());
  return [...seen.values()].sort((a, b) => a.localeCompare(b));
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
