// The part of the MQTT topic tree (hub/mqtt/topics.ts, docs/mqtt.md) the dashboard follows, and the check of
// each message at the boundary: a malformed payload is dropped here, so the store can trust its input.
import {
  BRIDGE_EVENT_TYPES,
  BRIDGE_SEGMENT,
  type Availability,
  type BridgeEventPayload,
  type BridgeDevice,
  type CapabilitySummary,
  type CommandResultPayload,
  type DeviceEventPayload,
  type DeviceStatePayload,
  type Topics,
} from '../../hub/mqtt/topics.js';
import { isJsonValue } from '../../protocol/value-form.js';
import type { DeviceStore } from './device-store.js';

export type LiveMessage =
  | { kind: 'devices'; devices: BridgeDevice[] }
  | { kind: 'bridgeState'; state: Availability }
  | { kind: 'state'; device: string; state: DeviceStatePayload }
  | { kind: 'availability'; device: string; availability: Availability }
  | { kind: 'event'; device: string; name: string; event: DeviceEventPayload }
  | { kind: 'setResult'; device: string; command: string; result: CommandResultPayload }
  | { kind: 'bridgeEvent'; event: BridgeEventPayload };

/** The filters the dashboard subscribes to; the retained ones give the first paint. */
export function liveSubscriptions(topics: Topics): string[] {
  return [topics.bridgeDevices(), topics.bridgeEvent(), topics.state('+'), topics.availability('+'), topics.event('+', '+'), topics.setResult('+', '+')];
}

const VALUE_TYPES = new Set(['bool', 'int', 'float', 'string', 'enum']);
const COMMAND_STATUSES = new Set(['ok', 'invalid', 'failed', 'unsupported', 'busy', 'offline', 'timeout']);

/** The typed message a topic and payload make, or null when the topic is not followed or the payload is malformed. */
export function parseLiveMessage(base: string, topic: string, text: string): LiveMessage | null {
  if (!topic.startsWith(`${base}/`)) return null;
  const levels = topic.slice(base.length + 1).split('/');
  const [device, kind, name, last] = levels;
  if (device === undefined || device === '' || kind === undefined) return null;
  if (device === BRIDGE_SEGMENT) {
    if (levels.length !== 2) return null;
    if (kind === 'devices') {
      const devices = parseDevices(parseJson(text));
      return devices ? { kind: 'devices', devices } : null;
    }
    if (kind === 'state') return isAvailability(text) ? { kind: 'bridgeState', state: text } : null;
    if (kind === 'event') {
      const e = parseJson(text);
      if (!isRecord(e) || !(BRIDGE_EVENT_TYPES as readonly unknown[]).includes(e.type) || !isRecord(e.data) || typeof e.data.id !== 'string') return null;
      const { id, name, room } = e.data;
      const data = { id, ...(typeof name === 'string' ? { name } : {}), ...(typeof room === 'string' || room === null ? { room } : {}) };
      return { kind: 'bridgeEvent', event: { type: e.type as BridgeEventPayload['type'], data } };
    }
    return null;
  }
  if (levels.length === 2 && kind === 'state') {
    const state = parseState(parseJson(text));
    return state ? { kind: 'state', device, state } : null;
  }
  if (levels.length === 2 && kind === 'availability') {
    return isAvailability(text) ? { kind: 'availability', device, availability: text } : null;
  }
  if (levels.length === 3 && kind === 'event' && name) {
    const event = parseJson(text);
    if (!isRecord(event) || !isJsonValue(event.value) || !isFiniteNumber(event.ts)) return null;
    return { kind: 'event', device, name, event: { value: event.value, ts: event.ts } };
  }
  if (levels.length === 4 && kind === 'set' && name && last === 'result') {
    const r = parseJson(text);
    if (!isRecord(r) || !COMMAND_STATUSES.has(r.status as string) || typeof r.message !== 'string') return null;
    if (r.id !== null && !isFiniteNumber(r.id)) return null;
    return { kind: 'setResult', device, command: name, result: { id: r.id, status: r.status as CommandResultPayload['status'], message: r.message } };
  }
  return null;
}

/** Applies a checked message to the store; `now` stamps availability changes and command results. */
export function applyLiveMessage(store: DeviceStore, message: LiveMessage, now: number): void {
  switch (message.kind) {
    case 'devices':
      return store.setDevices(message.devices, true);
    case 'state':
      return store.applyState(message.device, message.state);
    case 'availability':
      return store.applyAvailability(message.device, message.availability, now);
    case 'event':
      return store.applyEvent(message.device, message.name, message.event);
    case 'setResult':
      return store.applyCommandResult(message.device, message.command, message.result, now);
    case 'bridgeState':
      return store.setBridge(message.state);
    case 'bridgeEvent':
      return void store.events.emit('bridgeEvent', message.event);
  }
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Metric entries that are not {value, ts} are dropped, the rest kept. */
function parseState(data: unknown): DeviceStatePayload | null {
  if (!isRecord(data)) return null;
  const out: DeviceStatePayload = {};
  for (const [metric, entry] of Object.entries(data)) {
    if (isRecord(entry) && isJsonValue(entry.value) && isFiniteNumber(entry.ts)) out[metric] = { value: entry.value, ts: entry.ts };
  }
  return out;
}

/** A devices list with any malformed entry dropped; null when it is not a list at all. */
export function parseDevices(data: unknown): BridgeDevice[] | null {
  if (!Array.isArray(data)) return null;
  const out: BridgeDevice[] = [];
  for (const d of data) {
    if (!isRecord(d) || typeof d.id !== 'string' || d.id === '' || !Array.isArray(d.capabilities)) continue;
    const capabilities = d.capabilities.map(parseCapability).filter((c): c is CapabilitySummary => c !== null);
    out.push({
      id: d.id,
      name: typeof d.name === 'string' && d.name !== '' ? d.name : d.id,
      type: typeof d.type === 'string' ? d.type : '',
      model: typeof d.model === 'string' ? d.model : '',
      firmware: typeof d.firmware === 'string' ? d.firmware : '',
      room: typeof d.room === 'string' && d.room.trim() !== '' ? d.room : null,
      ...(d.updatable === true ? { updatable: true } : {}),
      online: d.online === true,
      lastSeen: isFiniteNumber(d.lastSeen) ? d.lastSeen : null,
      capabilities,
    });
  }
  return out;
}

function parseCapability(c: unknown): CapabilitySummary | null {
  if (
    !isRecord(c) ||
    typeof c.name !== 'string' ||
    !VALUE_TYPES.has(c.valueType as string) ||
    (c.min !== undefined && !isFiniteNumber(c.min)) ||
    (c.max !== undefined && !isFiniteNumber(c.max)) ||
    (c.options !== undefined && !(Array.isArray(c.options) && c.options.every((o) => typeof o === 'string')))
  ) {
    return null;
  }
  return {
    name: c.name,
    valueType: c.valueType as CapabilitySummary['valueType'],
    unit: typeof c.unit === 'string' ? c.unit : '',
    deviceClass: typeof c.deviceClass === 'string' ? c.deviceClass : '',
    writable: c.writable === true,
    event: c.event === true,
    ...(c.min !== undefined ? { min: c.min as number } : {}),
    ...(c.max !== undefined ? { max: c.max as number } : {}),
    ...(c.options !== undefined ? { options: [...(c.options as string[])] } : {}),
  };
}

function isAvailability(text: string): text is Availability {
  return text === 'online' || text === 'offline';
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
