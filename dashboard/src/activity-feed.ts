// The home's activity, newest first: devices joining, leaving, connecting and disconnecting (bridge/event),
// commands and their results, refused connections (counts from /api/hub) and, for admins, the hub's warnings
// and errors (/api/hub/logs). Bounded; collected from sign-in on, so the page shows what happened meanwhile.
import type { ApiLogLine, HubInfoResponse } from '../../hub/http/api-types.js';
import type { BridgeEventPayload, CommandResultPayload } from '../../hub/mqtt/topics.js';
import { TypedEmitter } from '../../protocol/typed-emitter.js';

export type ActivityKind = 'device' | 'command' | 'refused' | 'log';

export interface ActivityEntry {
  /** Unique within the feed, increasing. */
  seq: number;
  ts: number;
  kind: ActivityKind;
  level: 'info' | 'warn' | 'error';
  /** The device it concerns, when it concerns one. */
  device: string | null;
  text: string;
}

export const ACTIVITY_KINDS: Record<ActivityKind, string> = { device: 'Devices', command: 'Commands', refused: 'Refused connections', log: 'Hub warnings and errors' };
/** The short word on each entry's badge. */
export const ACTIVITY_BADGES: Record<ActivityKind, string> = { device: 'Device', command: 'Command', refused: 'Refused', log: 'Hub log' };
export const MAX_ACTIVITY = 500;

const BRIDGE_TEXT: Record<BridgeEventPayload['type'], string> = {
  device_joined: 'was added',
  device_left: 'was revoked or removed',
  device_connected: 'connected',
  device_disconnected: 'disconnected (offline)',
  device_updated: 'was changed',
};

export class ActivityFeed {
  readonly events = new TypedEmitter<{ changed: undefined }>();
  readonly #entries: ActivityEntry[] = [];
  readonly #max: number;
  #seq = 0;
  /** Refusal counts last seen, by code; null before the first /api/hub answer. */
  #refused: Record<string, number> | null = null;
  /** Newest log line already in the feed. */
  #logsUpTo = -Infinity;
  #logKeys = new Set<string>();

  constructor(max = MAX_ACTIVITY) {
    this.#max = max;
  }

  /** Entries, newest first. */
  entries(): readonly ActivityEntry[] {
    return this.#entries;
  }

  /** `<base>/bridge/event`; `name` gives the device's name when the event has none. */
  addBridgeEvent(e: BridgeEventPayload, ts: number, name: (id: string) => string | undefined): void {
    const who = e.data.name ?? name(e.data.id) ?? e.data.id;
    const where = e.type === 'device_updated' && e.data.room ? ` (room: ${e.data.room})` : '';
    const level = e.type === 'device_disconnected' || e.type === 'device_left' ? 'warn' : 'info';
    this.#add({ ts, kind: 'device', level, device: e.data.id, text: `${who} ${BRIDGE_TEXT[e.type]}${where}` });
  }

  /** A command's outcome (the page's own, or another client's on MQTT). */
  addCommandResult(device: string, deviceName: string, command: string, result: CommandResultPayload, ts: number): void {
    const ok = result.status === 'ok';
    const text = `${deviceName}: ${command} ${ok ? 'done' : `not done (${result.status}${result.message ? `: ${result.message}` : ''})`}`;
    this.#add({ ts, kind: 'command', level: ok ? 'info' : 'warn', device, text });
  }

  /** Refusal counters of /api/hub: the first answer is a summary since the hub started, later ones the increases. */
  addRefusals(refused: HubInfoResponse['refused'], ts: number): void {
    const before = this.#refused;
    this.#refused = { ...refused };
    for (const [code, count] of Object.entries(refused)) {
      const grew = count - (before?.[code] ?? 0);
      if (grew <= 0) continue;
      const text = before === null ? `${count} connection${count === 1 ? '' : 's'} refused with ${code} since the hub started` : `${grew} connection${grew === 1 ? '' : 's'} refused with ${code}`;
      this.#add({ ts, kind: 'refused', level: 'warn', device: null, text });
    }
  }

  /** The hub's warn/error lines (newest first, as the API answers); lines already in the feed are skipped. */
  addLogLines(lines: readonly ApiLogLine[]): void {
    const fresh = lines.filter((l) => l.ts >= this.#logsUpTo && !this.#logKeys.has(logKey(l))).reverse();
    for (const l of fresh) {
      this.#logKeys.add(logKey(l));
      this.#logsUpTo = Math.max(this.#logsUpTo, l.ts);
      const fields = Object.entries(l.fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
      const device = typeof l.fields.deviceId === 'string' ? l.fields.deviceId : null;
      this.#add({ ts: l.ts, kind: 'log', level: l.level, device, text: fields ? `${l.msg} (${fields})` : l.msg });
    }
    if (this.#logKeys.size > 4 * this.#max) this.#logKeys = new Set([...this.#logKeys].slice(-this.#max));
  }

  #add(entry: Omit<ActivityEntry, 'seq'>): void {
    const e = { ...entry, seq: ++this.#seq };
    // Newest first by time; a log line polled late slots in where it belongs.
    let i = 0;
    while (i < this.#entries.length && this.#entries[i]!.ts > e.ts) i++;
    this.#entries.splice(i, 0, e);
    if (this.#entries.length > this.#max) this.#entries.length = this.#max;
    this.events.emit('changed', undefined);
  }
}

function logKey(l: ApiLogLine): string {
  return `${l.ts}|${l.level}|${l.msg}|${JSON.stringify(l.fields)}`;
}
