import { decode, encode, LIMITS, utf8ByteLength } from '../protocol/index.js';
import type { DataFrame, Sample, Value } from '../protocol/index.js';
import type { JournalRecord } from './journal-record.js';

/** One numbered data frame kept until an ACK covers it [FP-8.3]. */
export interface OutboxEntry {
  seq: number;
  kind: DataFrame['type'];
  /** The frame as encoded, without the RESEND flag. */
  bytes: Uint8Array;
  /** Readings, samples or events the frame carries (for drop accounting). */
  items: number;
  /** Went out on some connection: the next send carries RESEND [FP-8.4]. */
  sent: boolean;
  /** Clock time it was last sent on the current connection, for ACK latency; -1 when not sent on it. */
  sentAt: number;
}

export interface OutboxBounds {
  /** Most frames kept; past it the oldest is dropped (and counted). */
  maxFrames: number;
  /** Most encoded bytes kept; past it the oldest is dropped (and counted). */
  maxBytes: number;
}

/** The frame-size limits of the current (or last) WELCOME [FP-6.2, FP-9.1]. */
export interface FrameLimits {
  maxFrameBytes: number;
  maxBatchSamples: number;
}

export const DEFAULT_OUTBOX_BOUNDS: OutboxBounds = { maxFrames: 10_000, maxBytes: 1 << 20 };
export const DEFAULT_FRAME_LIMITS: FrameLimits = { maxFrameBytes: LIMITS.maxFrameBytes, maxBatchSamples: LIMITS.maxBatchSamples };

/** Header, seq, count and base timestamp of a BATCH, at their largest. */
const BATCH_OVERHEAD_BYTES = 2 + 8 + 3 + 8;

/** Notifications for the device's record of what became of each seq. */
export interface OutboxHooks {
  /** A frame left the buffer unacknowledged: past a bound, or refused by the hub. */
  drop?(entry: OutboxEntry): void;
  /** Never-sent frames got new seqs (see welcome()): pairs of [old, new]. */
  renumber?(moves: [number, number][]): void;
  /** Every change of the state, before it can reach the wire (the write-ahead journal). */
  journal?(record: JournalRecord): void;
}

/** What a state file keeps of an outbox. */
export interface OutboxSnapshot {
  nextSeq: number;
  lastAckedSeq: number;
  drops: number;
  droppedItems: number;
  frames: { seq: number; sent: boolean; data: string }[];
  pending: Sample[];
}

/**
 * The device's delivery buffer: numbered data frames not yet covered by an ACK, plus the BATCH being
 * filled while offline. Pure bookkeeping (no sockets, no timers), so every delivery rule is unit-testable.
 */
export class Outbox {
  readonly bounds: OutboxBounds;
  /** Sequence number the next data frame gets [FP-8.1]. */
  nextSeq = 1;
  /** Highest seq the hub acknowledged (0 if none). */
  lastAckedSeq = 0;
  /** Frames dropped past the bounds, and the readings/samples/events they held. */
  drops = 0;
  droppedItems = 0;
  /** Never-sent frames renumbered because the hub was ahead of a device that lost its state. */
  renumbered = 0;
  #entries: OutboxEntry[] = [];
  #head = 0;
  #bytes = 0;
  #pending: Sample[] = [];
  #pendingBytes = 0;
  readonly #hooks: OutboxHooks;

  constructor(bounds: OutboxBounds = DEFAULT_OUTBOX_BOUNDS, hooks: OutboxHooks = {}) {
    this.bounds = bounds;
    this.#hooks = hooks;
  }

  /** Frames held. */
  get length(): number {
    return this.#entries.length - this.#head;
  }

  /** Encoded bytes held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Samples waiting in the unsealed offline BATCH. */
  get pendingSamples(): number {
    return this.#pending.length;
  }

  /** The held frames, oldest first. */
  entries(): OutboxEntry[] {
    return this.#entries.slice(this.#head);
  }

  /** Numbers `frame` with the next seq, encodes it (throws ProtocolError if invalid) and keeps it. */
  push(frame: DataFrame): OutboxEntry {
    const numbered = { ...frame, seq: this.nextSeq } as DataFrame;
    const bytes = encode(numbered);
    this.nextSeq++;
    const entry: OutboxEntry = { seq: numbered.seq, kind: numbered.type, bytes, items: itemsOf(numbered), sent: false, sentAt: -1 };
    this.#hooks.journal?.({ k: 'frame', seq: entry.seq, data: base64(bytes) });
    this.#append(entry);
    return entry;
  }

  /**
   * Adds offline samples to the pending BATCH, sealing it first whenever the next sample would pass
   * maxBatchSamples or maxFrameBytes. Returns the frames sealed on the way.
   */
  addOffline(samples: Sample[], limits: FrameLimits): OutboxEntry[] {
    const sealed: OutboxEntry[] = [];
    // Journal order is state order: the samples added so far, then a seal, then the rest.
    let unjournaled: Sample[] = [];
    const journalPending = (): void => {
      if (unjournaled.length > 0) this.#hooks.journal?.({ k: 'pend', samples: unjournaled });
      unjournaled = [];
    };
    for (const sample of samples) {
      const size = sampleBytesUpperBound(sample, this.#pending[this.#pending.length - 1]?.ts);
      const full = this.#pending.length >= limits.maxBatchSamples || BATCH_OVERHEAD_BYTES + this.#pendingBytes + size > limits.maxFrameBytes;
      if (full) {
        journalPending();
        sealed.push(...this.sealPending(limits));
      }
      this.#pending.push(sample);
      unjournaled.push(sample);
      this.#pendingBytes += size;
    }
    journalPending();
    return sealed;
  }

  /** Turns the pending samples into numbered BATCH frames (none if nothing is pending). */
  sealPending(limits: FrameLimits = DEFAULT_FRAME_LIMITS): OutboxEntry[] {
    if (this.#pending.length === 0) return [];
    // Delta encoding needs non-decreasing ts [FP-6.4]; a clock step while offline may break the order.
    const samples = this.#pending.sort((a, b) => a.ts - b.ts);
    this.#pending = [];
    this.#pendingBytes = 0;
    return this.#sealSamples(samples, limits);
  }

  /** Removes every frame with seq <= `seq` (a cumulative ACK [FP-8.2]) and returns them. */
  ack(seq: number): OutboxEntry[] {
    const before = this.lastAckedSeq;
    if (seq > this.lastAckedSeq) this.lastAckedSeq = Math.min(seq, this.nextSeq - 1);
    const removed: OutboxEntry[] = [];
    while (this.#head < this.#entries.length && this.#entries[this.#head]!.seq <= seq) removed.push(this.#shift());
    this.#compact();
    if (removed.length > 0 || this.lastAckedSeq !== before) this.#hooks.journal?.({ k: 'ack', seq });
    return removed;
  }

  /**
   * Applies WELCOME.nextSeq [FP-8.4]: frames below it are stored at the hub and go; numbering continues at
   * max(own next, nextSeq). Exception: when the hub is ahead of a device whose frames were never sent
   * (its state was lost), those frames are renumbered from nextSeq rather than silently thrown away.
   */
  welcome(hubNextSeq: number): OutboxEntry[] {
    // Everything below nextSeq is durable at the hub: as good as acknowledged.
    this.lastAckedSeq = Math.max(this.lastAckedSeq, hubNextSeq - 1);
    const held = this.entries();
    const stale = held.filter((e) => e.seq < hubNextSeq);
    if (stale.length > 0 && held.every((e) => !e.sent)) {
      this.#entries = [];
      this.#head = 0;
      this.#bytes = 0;
      this.nextSeq = hubNextSeq;
      this.#hooks.journal?.({ k: 'renumber', nextSeq: hubNextSeq });
      const moves = held.map((e): [number, number] => [e.seq, this.#renumber(e)]);
      this.renumbered += held.length;
      this.#hooks.renumber?.(moves);
      return [];
    }
    for (let i = 0; i < stale.length; i++) this.#shift();
    this.#compact();
    this.nextSeq = Math.max(this.nextSeq, hubNextSeq);
    this.#hooks.journal?.({ k: 'welcome', nextSeq: hubNextSeq });
    return stale;
  }

  /** Drops the oldest held frame (one the hub refused [FP-7.5]), counting it; undefined when empty. */
  dropOldest(): OutboxEntry | undefined {
    if (this.length === 0) return undefined;
    const dropped = this.#shift();
    this.#compact();
    this.#dropped(dropped);
    return dropped;
  }

  /** Notes that `entry` is about to be sent (call before the send: a resumed run then sets RESEND [FP-8.4]). */
  markSent(entry: OutboxEntry): void {
    if (!entry.sent) this.#hooks.journal?.({ k: 'sent', seq: entry.seq });
    entry.sent = true;
  }

  /** The first held frame with seq > `seq`, by binary search. */
  nextAfter(seq: number): OutboxEntry | undefined {
    let lo = this.#head;
    let hi = this.#entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#entries[mid]!.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return this.#entries[lo];
  }

  /** The entry's bytes as they go on the wire: with RESEND set when it was sent before [FP-8.4]. */
  wireBytes(entry: OutboxEntry): Uint8Array {
    if (!entry.sent) return entry.bytes;
    return encode({ ...(decode(entry.bytes) as DataFrame), resend: true });
  }

  /** A JSON-safe copy of the whole state, for the state file. */
  snapshot(): OutboxSnapshot {
    return {
      nextSeq: this.nextSeq,
      lastAckedSeq: this.lastAckedSeq,
      drops: this.drops,
      droppedItems: this.droppedItems,
      frames: this.entries().map((e) => ({ seq: e.seq, sent: e.sent, data: base64(e.bytes) })),
      pending: this.#pending.map((s) => ({ ...s, value: { ...s.value } }) as Sample),
    };
  }

  /** Replaces the state with a snapshot (frames are decoded to validate them). */
  restore(snap: OutboxSnapshot): void {
    this.#entries = [];
    this.#head = 0;
    this.#bytes = 0;
    for (const f of snap.frames) {
      const bytes = new Uint8Array(Buffer.from(f.data, 'base64'));
      const frame = decode(bytes) as DataFrame;
      this.#append({ seq: frame.seq, kind: frame.type, bytes, items: itemsOf(frame), sent: f.sent, sentAt: -1 });
    }
    this.nextSeq = snap.nextSeq;
    this.lastAckedSeq = snap.lastAckedSeq;
    this.drops = snap.drops;
    this.droppedItems = snap.droppedItems;
    this.#pending = [];
    this.#pendingBytes = 0;
    for (const s of snap.pending) {
      this.#pendingBytes += sampleBytesUpperBound(s, this.#pending[this.#pending.length - 1]?.ts);
      this.#pending.push(s);
    }
  }

  #sealSamples(samples: Sample[], limits: FrameLimits): OutboxEntry[] {
    const frame: DataFrame = { type: 'batch', seq: this.nextSeq, samples };
    const bytes = encode(frame);
    // The per-sample estimate is an upper bound for in-order samples only; split if reality disagrees.
    if (bytes.length > limits.maxFrameBytes && samples.length > 1) {
      const half = samples.length >> 1;
      return [...this.#sealSamples(samples.slice(0, half), limits), ...this.#sealSamples(samples.slice(half), limits)];
    }
    this.nextSeq++;
    const entry: OutboxEntry = { seq: frame.seq, kind: 'batch', bytes, items: samples.length, sent: false, sentAt: -1 };
    this.#hooks.journal?.({ k: 'frame', seq: entry.seq, data: base64(bytes), sealed: true });
    this.#append(entry);
    return [entry];
  }

  #renumber(entry: OutboxEntry): number {
    const frame = { ...(decode(entry.bytes) as DataFrame), seq: this.nextSeq++ };
    const bytes = encode(frame);
    this.#hooks.journal?.({ k: 'frame', seq: frame.seq, data: base64(bytes), movedFrom: entry.seq });
    this.#append({ ...entry, seq: frame.seq, bytes });
    return frame.seq;
  }

  #append(entry: OutboxEntry): void {
    this.#entries.push(entry);
    this.#bytes += entry.bytes.length;
    // Drop the oldest only once past a bound; the newest frame always stays.
    while (this.length > 1 && (this.length > this.bounds.maxFrames || this.#bytes > this.bounds.maxBytes)) {
      this.#dropped(this.#shift());
    }
    this.#compact();
  }

  #dropped(entry: OutboxEntry): void {
    this.drops++;
    this.droppedItems += entry.items;
    this.#hooks.journal?.({ k: 'drop', seq: entry.seq, items: entry.items });
    this.#hooks.drop?.(entry);
  }

  #shift(): OutboxEntry {
    const entry = this.#entries[this.#head]!;
    this.#entries[this.#head] = undefined as unknown as OutboxEntry;
    this.#head++;
    this.#bytes -= entry.bytes.length;
    return entry;
  }

  #compact(): void {
    if (this.#head > 64 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
  }
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

function itemsOf(frame: DataFrame): number {
  if (frame.type === 'telemetry') return frame.readings.length;
  if (frame.type === 'batch') return frame.samples.length;
  return 1;
}

/** Bytes a sample adds to a BATCH, at most (exact for the delta when samples come in ts order) [FP-6.4]. */
function sampleBytesUpperBound(sample: Sample, previousTs: number | undefined): number {
  const delta = previousTs === undefined ? 0 : sample.ts - previousTs;
  const deltaBytes = delta < 0 ? 8 : varintBytes(delta);
  return deltaBytes + 1 + valueBytesUpperBound(sample.value);
}

function valueBytesUpperBound(value: Value): number {
  switch (value.type) {
    case 'bool':
      return 1;
    case 'int':
      return 9;
    case 'float':
      return Math.fround(value.value) === value.value ? 5 : 9;
    case 'enum':
      return 3;
    case 'string': {
      const n = utf8ByteLength(value.value);
      return 1 + varintBytes(n) + n;
    }
  }
}

function varintBytes(n: number): number {
  let bytes = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    bytes++;
  }
  return bytes;
}
