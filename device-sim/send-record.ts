import { decode } from '../protocol/index.js';
import type { DataFrame, Value } from '../protocol/index.js';

/** One reading, sample or event as generated, with the device time it was taken at. */
export interface RecordedItem {
  ts: number;
  metric: number;
  value: Value;
}

/**
 * What a device generated, by the seq of the frame that carries it, and every seq it sent: the "nothing
 * lost" tests compare it with what the hub stored. Kept only with `recordSent: true`.
 */
export class SendRecord {
  /** seq -> the items of that data frame. */
  readonly generated = new Map<number, RecordedItem[]>();
  /** Every send in order, resends included. */
  readonly sent: number[] = [];
  /** Seqs dropped from the buffer past its bounds (their items are lost by design, and counted). */
  readonly dropped = new Set<number>();

  /** Records the items of a newly numbered data frame. */
  frame(frame: DataFrame): void {
    this.generated.set(frame.seq, itemsOf(frame));
  }

  /** Records the items of an already encoded data frame (a sealed BATCH). */
  frameBytes(bytes: Uint8Array): void {
    this.frame(decode(bytes) as DataFrame);
  }

  /** Moves frames' items to the seqs they were renumbered to ([old, new] pairs, applied at once). */
  renumber(moves: [number, number][]): void {
    const moved = moves.map(([from, to]) => [to, this.generated.get(from)] as const);
    for (const [from] of moves) this.generated.delete(from);
    for (const [to, items] of moved) if (items !== undefined) this.generated.set(to, items);
  }

  /** Every generated item of frames not dropped, in seq order. */
  kept(): { seq: number; items: RecordedItem[] }[] {
    return [...this.generated.entries()]
      .filter(([seq]) => !this.dropped.has(seq))
      .sort((a, b) => a[0] - b[0])
      .map(([seq, items]) => ({ seq, items }));
  }
}

/** The items a data frame carries, each with its own timestamp. */
export function itemsOf(frame: DataFrame): RecordedItem[] {
  switch (frame.type) {
    case 'telemetry':
      return frame.readings.map((r) => ({ ts: frame.ts, metric: r.metric, value: r.value }));
    case 'batch':
      return frame.samples.map((s) => ({ ts: s.ts, metric: s.metric, value: s.value }));
    case 'event':
      return [{ ts: frame.ts, metric: frame.metric, value: frame.value }];
  }
}
