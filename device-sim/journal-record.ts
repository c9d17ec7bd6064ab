// The write-ahead records of a device's delivery state [FP-8.1, FP-8.3]: one JSON line per change, written
// before the change can reach the wire, so a simulator killed at any moment resumes with every seq it
// used and every reading it generated. The same lines, never compacted, are the device's record of what
// it generated (`--record`), which the chaos suite compares with the hub's database.
import { decode } from '../protocol/index.js';
import type { BatchFrame, Sample } from '../protocol/index.js';
import type { OutboxSnapshot } from './outbox.js';

export type JournalRecord =
  /** A data frame got its seq (base64 bytes, no RESEND). `sealed`: the offline BATCH, which empties the pending samples; `movedFrom`: a renumbered never-sent frame. */
  | { k: 'frame'; seq: number; data: string; sealed?: true; movedFrom?: number }
  /** Offline samples joined the unsealed BATCH. */
  | { k: 'pend'; samples: Sample[] }
  /** The frame is about to go out (its next send carries RESEND [FP-8.4]). */
  | { k: 'sent'; seq: number }
  /** A cumulative ACK [FP-8.2]. */
  | { k: 'ack'; seq: number }
  /** WELCOME.nextSeq [FP-8.4]: frames below it are stored at the hub. */
  | { k: 'welcome'; nextSeq: number }
  /** The hub was ahead of never-sent frames: they are cleared and follow as frames with movedFrom. */
  | { k: 'renumber'; nextSeq: number }
  /** A frame left the buffer unacknowledged (full buffer, or refused by the hub [FP-7.5, FP-8.8]). */
  | { k: 'drop'; seq: number; items: number }
  /** The journal's first line: the snapshot generation it continues (see StateStore.compact). */
  | { k: 'generation'; generation: number };

/** A journal line: the record and the wall-clock time it was written at. */
export type JournalLine = JournalRecord & { at: number };

/** An empty outbox state (a device that never ran). */
export function emptySnapshot(): OutboxSnapshot {
  return { nextSeq: 1, lastAckedSeq: 0, drops: 0, droppedItems: 0, frames: [], pending: [] };
}

/** Applies one record to `snap` in place, exactly as the Outbox applied the change that wrote it. */
export function applyRecord(snap: OutboxSnapshot, rec: JournalRecord): void {
  switch (rec.k) {
    case 'frame':
      if (rec.sealed === true) snap.pending = withoutSamples(snap.pending, (decode(Buffer.from(rec.data, 'base64')) as BatchFrame).samples);
      snap.frames.push({ seq: rec.seq, sent: false, data: rec.data });
      snap.nextSeq = Math.max(snap.nextSeq, rec.seq + 1);
      return;
    case 'pend':
      snap.pending.push(...rec.samples);
      return;
    case 'sent': {
      const frame = snap.frames.find((f) => f.seq === rec.seq);
      if (frame !== undefined) frame.sent = true;
      return;
    }
    case 'ack':
      snap.frames = snap.frames.filter((f) => f.seq > rec.seq);
      snap.lastAckedSeq = Math.max(snap.lastAckedSeq, Math.min(rec.seq, snap.nextSeq - 1));
      return;
    case 'welcome':
      snap.frames = snap.frames.filter((f) => f.seq >= rec.nextSeq);
      snap.lastAckedSeq = Math.max(snap.lastAckedSeq, rec.nextSeq - 1);
      snap.nextSeq = Math.max(snap.nextSeq, rec.nextSeq);
      return;
    case 'renumber':
      snap.frames = [];
      snap.lastAckedSeq = Math.max(snap.lastAckedSeq, rec.nextSeq - 1);
      snap.nextSeq = rec.nextSeq;
      return;
    case 'drop':
      snap.frames = snap.frames.filter((f) => f.seq !== rec.seq);
      snap.drops++;
      snap.droppedItems += rec.items;
      return;
    case 'generation':
      return;
  }
}

/** `pending` less one copy of each of `taken` (a BATCH sealed from it, maybe one half of a split seal). */
function withoutSamples(pending: Sample[], taken: Sample[]): Sample[] {
  const counts = new Map<string, number>();
  for (const s of taken) counts.set(sampleKey(s), (counts.get(sampleKey(s)) ?? 0) + 1);
  return pending.filter((s) => {
    const n = counts.get(sampleKey(s)) ?? 0;
    if (n === 0) return true;
    counts.set(sampleKey(s), n - 1);
    return false;
  });
}

/** A sample's identity for matching: metric, device time and value. */
export function sampleKey(s: { ts: number; metric: number; value: { type: string; value: unknown } }): string {
  return `${s.metric}@${s.ts}=${s.value.type}:${String(s.value.value)}`;
}

/**
 * Parses journal text into records. A last line without its newline (a kill mid-write) is not a record:
 * `validBytes` says where the good part ends, so the writer can cut the torn tail before appending.
 */
export function parseJournal(text: string): { lines: JournalLine[]; validBytes: number } {
  const end = text.lastIndexOf('\n') + 1;
  const lines: JournalLine[] = [];
  for (const line of text.slice(0, end).split('\n')) {
    if (line.length > 0) lines.push(JSON.parse(line) as JournalLine);
  }
  return { lines, validBytes: Buffer.byteLength(text.slice(0, end)) };
}
