// Test support: what the hub's database holds for a device, in the simulator's terms (capability ids and
// typed values), to compare with what the device generated (SendRecord.kept()).
import type { Value } from '../../protocol/index.js';
import type { HubStore } from '../../hub/storage/hub-store.js';
import type { RecordedItem } from '../send-record.js';

/**
 * Every reading and event stored for the device, in time order (byTime). The database keeps readings per
 * metric, not per frame, so compare with byTime(kept items): equal means each was stored exactly once.
 */
export function storedItems(store: HubStore, deviceId: string): RecordedItem[] {
  const caps = store.getDevice(deviceId)?.capabilities ?? [];
  const items: RecordedItem[] = [];
  for (const cap of caps) {
    if (cap.event) continue;
    const points = store.history({ deviceId, metric: cap.name, from: 0, to: Number.MAX_SAFE_INTEGER, step: 'raw', limit: 1_000_000 });
    for (const p of points) items.push({ ts: p.ts, metric: cap.id, value: typed(cap.valueType, p.value!) });
  }
  const byName = new Map(caps.map((c) => [c.name, c.id]));
  for (const e of store.events(deviceId, 0, Number.MAX_SAFE_INTEGER, 1_000_000)) items.push({ ts: e.ts, metric: byName.get(e.name) ?? -1, value: e.value });
  return byTime(items);
}

/** A copy sorted by time, then metric id, then value: the order storedItems() gives. */
export function byTime(items: readonly RecordedItem[]): RecordedItem[] {
  const key = (i: RecordedItem) => JSON.stringify(i.value);
  return [...items].sort((a, b) => a.ts - b.ts || a.metric - b.metric || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

function typed(type: Value['type'], raw: number | string | boolean): Value {
  switch (type) {
    case 'bool':
      return { type, value: raw === true || raw === 1 };
    case 'string':
      return { type, value: String(raw) };
    default:
      return { type, value: Number(raw) };
  }
}
