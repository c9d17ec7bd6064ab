// The chaos suite's independent check: each device's record (hearth-sim --record, every journal line,
// never compacted) against what the hub's database holds. A reading is (device, metric, ts, value); it is
// missing when generated, not dropped by the device's full buffer [FP-8.3] and not stored; duplicated when
// stored more often than generated [FP-8.7]; a seq journaled twice with other content is a reuse [FP-8.1].
import { readFileSync } from 'node:fs';
import { decode } from '../protocol/index.js';
import type { DataFrame, Value } from '../protocol/index.js';
import { parseJournal, sampleKey } from '../device-sim/journal-record.js';
import { modelByName } from '../device-sim/models/index.js';
import { itemsOf } from '../device-sim/send-record.js';
import { HubStore } from '../hub/storage/hub-store.js';

/** What became of the readings generated in one time window (one row of the chaos table). */
export interface ReadingCounts {
  generated: number;
  /** Dropped by the device (buffer full, or refused by the hub): not a loss [FP-8.8]. */
  dropped: number;
  /** In a frame that went out at least once. */
  sent: number;
  /** In a frame an ACK (or WELCOME.nextSeq) covered. */
  acked: number;
  stored: number;
  /** generated - dropped - stored, when positive. */
  missing: number;
  duplicated: number;
}

export interface DeviceAudit {
  device: string;
  /** Counts by window: index i holds the readings generated in [bounds[i-1], bounds[i]) (see auditDevice). */
  windows: ReadingCounts[];
  /** Seqs journaled twice with different content [FP-8.1]. */
  seqReuses: number;
  /** Highest seq acknowledged, from the record. */
  lastAckedSeq: number;
}

interface Instance {
  key: string;
  window: number;
  frame: number | null;
}

/** An all-zero row. */
export function zeroCounts(): ReadingCounts {
  return { generated: 0, dropped: 0, sent: 0, acked: 0, stored: 0, missing: 0, duplicated: 0 };
}

/** Adds `b` into `a`. */
export function addCounts(a: ReadingCounts, b: ReadingCounts): void {
  for (const k of COUNT_KEYS) a[k] += b[k];
}

const COUNT_KEYS = Object.keys(zeroCounts()) as (keyof ReadingCounts)[];

/**
 * Audits one device: its record file against the readings and events `store` holds for it. `bounds` are
 * wall-clock times splitting the run into windows (faults); a reading falls in the window it was generated in.
 */
export function auditDevice(recordFile: string, device: string, model: string, store: HubStore, bounds: number[]): DeviceAudit {
  const { lines } = parseJournal(readFileSync(recordFile, 'utf8'));
  const windowOf = (at: number): number => bounds.filter((b) => b <= at).length;
  const instances: Instance[] = [];
  const byFrame = new Map<number, Instance[]>();
  const content = new Map<number, string>();
  const sent = new Set<number>();
  const dropped = new Set<number>();
  let pending: Instance[] = [];
  let lastAcked = 0;
  let seqReuses = 0;
  for (const line of lines) {
    switch (line.k) {
      case 'frame': {
        if (content.has(line.seq) && content.get(line.seq) !== line.data) seqReuses++;
        content.set(line.seq, line.data);
        const frame = decode(Buffer.from(line.data, 'base64')) as DataFrame;
        let held: Instance[];
        if (line.movedFrom !== undefined) held = byFrame.get(line.movedFrom) ?? [];
        else if (line.sealed === true) {
          // The BATCH takes its samples out of the pending ones (maybe half of them, a split seal).
          held = [];
          for (const item of itemsOf(frame)) {
            const i = pending.findIndex((p) => p.key === sampleKey(item));
            if (i >= 0) held.push(...pending.splice(i, 1));
          }
        } else {
          held = itemsOf(frame).map((item) => ({ key: sampleKey(item), window: windowOf(line.at), frame: null }));
          instances.push(...held);
        }
        for (const inst of held) inst.frame = line.seq;
        byFrame.set(line.seq, held);
        break;
      }
      case 'pend':
        for (const s of line.samples) {
          const inst = { key: sampleKey(s), window: windowOf(line.at), frame: null };
          instances.push(inst);
          pending.push(inst);
        }
        break;
      case 'sent':
        sent.add(line.seq);
        break;
      case 'ack':
        lastAcked = Math.max(lastAcked, line.seq);
        break;
      case 'welcome':
      case 'renumber':
        lastAcked = Math.max(lastAcked, line.nextSeq - 1);
        break;
      case 'drop':
        dropped.add(line.seq);
        break;
      case 'generation':
        break;
    }
  }
  pending = [];

  const windows = Array.from({ length: bounds.length + 1 }, zeroCounts);
  const byKey = new Map<string, Instance[]>();
  for (const inst of instances) {
    const w = windows[inst.window]!;
    w.generated++;
    const isDropped = inst.frame !== null && dropped.has(inst.frame);
    if (isDropped) w.dropped++;
    if (inst.frame !== null && sent.has(inst.frame)) w.sent++;
    if (inst.frame !== null && !isDropped && inst.frame <= lastAcked) w.acked++;
    const list = byKey.get(inst.key) ?? [];
    list.push(inst);
    byKey.set(inst.key, list);
  }
  const stored = storedKeys(store, device, model);
  for (const [key, insts] of byKey) {
    let n = stored.get(key) ?? 0;
    stored.delete(key);
    // Kept readings claim the stored copies first; a dropped one the hub stored anyway is no duplicate.
    const ordered = [...insts.filter((i) => !dropped.has(i.frame ?? -1)), ...insts.filter((i) => dropped.has(i.frame ?? -1))];
    for (const inst of ordered) {
      const isDropped = dropped.has(inst.frame ?? -1);
      if (n > 0) {
        n--;
        if (!isDropped) windows[inst.window]!.stored++;
      } else if (!isDropped) windows[inst.window]!.missing++;
    }
    windows[insts[insts.length - 1]!.window]!.duplicated += n;
  }
  // Stored readings the device never generated count as duplicates of the last window.
  for (const n of stored.values()) windows[bounds.length]!.duplicated += n;
  return { device, windows, seqReuses, lastAckedSeq: lastAcked };
}

/** Every stored reading and event of a device, as sampleKey strings with their counts. */
function storedKeys(store: HubStore, device: string, modelName: string): Map<string, number> {
  const model = modelByName(modelName);
  if (model === undefined) throw new Error(`device ${device}: unknown model "${modelName}"`);
  const counts = new Map<string, number>();
  const add = (metric: number, ts: number, value: Value): void => {
    const key = sampleKey({ metric, ts, value });
    counts.set(key, (counts.get(key) ?? 0) + 1);
  };
  for (const cap of model.capabilities) {
    if (cap.event) continue;
    for (const p of store.history({ deviceId: device, metric: cap.name, from: 0, to: Number.MAX_SAFE_INTEGER, step: 'raw', limit: 10_000_000 })) {
      const value = cap.valueType === 'bool' ? { type: 'bool', value: p.value === 1 } : { type: cap.valueType, value: p.value };
      add(cap.id, p.ts, value as Value);
    }
  }
  const ids = new Map(model.capabilities.map((c) => [c.name, c.id]));
  for (const e of store.events(device, 0, Number.MAX_SAFE_INTEGER, 10_000_000)) add(ids.get(e.name) ?? -1, e.ts, e.value);
  return counts;
}
