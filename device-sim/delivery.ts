// The delivery rules of firmware-protocol.md section 8 for one device: what becomes a numbered frame,
// when it is sent, what an ACK or a WELCOME removes. No sockets: it is handed a send function per session.
import { LIMITS } from '../protocol/index.js';
import type { DataFrame, Reading, Sample, WelcomeFrame } from '../protocol/index.js';
import type { Clock, TimerHandle } from './clock.js';
import type { DeviceCounters } from './device-counters.js';
import type { LatencyHistogram } from './latency-histogram.js';
import type { ModelEvent } from './models/model.js';
import { DEFAULT_FRAME_LIMITS, type FrameLimits, type Outbox, type OutboxEntry } from './outbox.js';
import { Pacer } from './pacer.js';
import type { SendRecord } from './send-record.js';

export interface DeliveryParts {
  clock: Clock;
  outbox: Outbox;
  counters: DeviceCounters;
  latency: LatencyHistogram;
  record: SendRecord | null;
}

/** Sends one encoded frame on the current connection; false when it could not. */
export type SendBytes = (bytes: Uint8Array) => boolean;

/** Delivery of one device's data frames across connections. */
export class Delivery {
  readonly #p: DeliveryParts;
  #send: SendBytes | null = null;
  #limits: FrameLimits = DEFAULT_FRAME_LIMITS;
  #maxReadings: number = LIMITS.maxReadingsPerFrame;
  #pacer: Pacer | null = null;
  /** Highest seq sent on the current connection. */
  #cursor = 0;
  #pumpTimer: TimerHandle | null = null;

  constructor(parts: DeliveryParts) {
    this.#p = parts;
  }

  /** True between a WELCOME and the end of that connection. */
  get online(): boolean {
    return this.#send !== null;
  }

  /**
   * A WELCOME arrived [FP-8.4]: frames below nextSeq are durable at the hub and go; the offline BATCH is
   * sealed after that, so it is numbered from max(own next, nextSeq); everything left is (re)sent in order.
   */
  welcome(w: WelcomeFrame, send: SendBytes): void {
    const { outbox, counters, clock } = this.#p;
    this.#send = send;
    this.#limits = { maxFrameBytes: Math.min(w.maxFrameBytes, LIMITS.maxFrameBytes), maxBatchSamples: Math.min(w.maxBatchSamples, LIMITS.maxBatchSamples) };
    this.#maxReadings = Math.max(1, Math.min(w.maxReadingsPerFrame, LIMITS.maxReadingsPerFrame));
    this.#pacer = new Pacer(w.maxFramesPerSecond, clock.now());
    counters.acked += outbox.welcome(w.nextSeq).length;
    this.#sealed(outbox.sealPending(this.#limits));
    this.#cursor = 0;
    this.#pump();
  }

  /** The connection ended: stop sending until the next WELCOME. */
  offline(): void {
    this.#send = null;
    this.#cancelPump();
  }

  /** New readings (taken at device time `now`) and events: sent at once when online, buffered otherwise [FP-8.3, FP-8.5]. */
  data(readings: Reading[], events: ModelEvent[], now: number): void {
    const { outbox, counters } = this.#p;
    counters.generated += readings.length + events.length;
    if (this.online) {
      for (const e of events) this.#push({ type: 'event', seq: 0, ts: e.ts, metric: e.metric, value: e.value });
      // More readings than a TELEMETRY may carry go out as several frames [FP-6.2, FP-9.1].
      for (let i = 0; i < readings.length; i += this.#maxReadings) {
        this.#push({ type: 'telemetry', seq: 0, ts: now, readings: readings.slice(i, i + this.#maxReadings) });
      }
      this.#pump();
    } else {
      // Events stay EVENT frames (a BATCH carries readings only [FP-7.6]); sealing the BATCH before each
      // keeps seq order in time order.
      for (const e of events) {
        this.#sealed(outbox.sealPending(this.#limits));
        this.#push({ type: 'event', seq: 0, ts: e.ts, metric: e.metric, value: e.value });
      }
      const samples: Sample[] = readings.map((r) => ({ ts: now, metric: r.metric, value: r.value }));
      this.#sealed(outbox.addOffline(samples, this.#limits));
    }
  }

  /** A cumulative ACK [FP-8.2]: frees every frame up to `seq` and records their ACK latency. Returns how many. */
  ack(seq: number): number {
    const { outbox, counters, latency, clock } = this.#p;
    const now = clock.now();
    const acked = outbox.ack(seq);
    for (const e of acked) if (e.sentAt >= 0) latency.record(now - e.sentAt);
    counters.acked += acked.length;
    return acked.length;
  }

  /**
   * The hub refused a frame of ours (close 4005 and kin; call before offline()): drop the oldest one sent on
   * this connection and not yet acknowledged, which would be refused again forever [FP-7.5]. Its seq becomes
   * a gap [FP-8.8].
   */
  dropRefused(): void {
    // Frames go out in seq order from the oldest on each connection, so the oldest held frame is the
    // first candidate; none was sent on this connection when the refusal came before any data frame.
    if ((this.#p.outbox.entries()[0]?.sentAt ?? -1) < 0) return;
    this.#p.outbox.dropOldest();
  }

  #push(frame: DataFrame): void {
    const entry = this.#p.outbox.push(frame);
    this.#p.counters.frames++;
    this.#p.record?.frame({ ...frame, seq: entry.seq });
  }

  #sealed(entries: OutboxEntry[]): void {
    this.#p.counters.frames += entries.length;
    for (const e of entries) this.#p.record?.frameBytes(e.bytes);
  }

  /** Sends held frames past the cursor in seq order, as fast as WELCOME.maxFramesPerSecond allows [FP-9.2]. */
  #pump(): void {
    const { outbox, counters, clock, record } = this.#p;
    if (this.#send === null || this.#pumpTimer !== null || this.#pacer === null) return;
    for (;;) {
      const entry = outbox.nextAfter(this.#cursor);
      if (entry === undefined) break;
      const wait = this.#pacer.take(clock.now());
      if (wait > 0) {
        this.#pumpTimer = clock.setTimeout(() => {
          this.#pumpTimer = null;
          this.#pump();
        }, wait);
        break;
      }
      const resend = entry.sent;
      // A frame sent before goes out unchanged but for RESEND [FP-8.4].
      const bytes = outbox.wireBytes(entry);
      // Journaled as sent before it is sent: a kill in between costs only a needless RESEND flag.
      outbox.markSent(entry);
      if (!this.#send(bytes)) break;
      entry.sentAt = clock.now();
      this.#cursor = entry.seq;
      counters.sent++;
      if (resend) counters.resent++;
      record?.sent.push(entry.seq);
    }
  }

  #cancelPump(): void {
    if (this.#pumpTimer !== null) this.#p.clock.clearTimeout(this.#pumpTimer);
    this.#pumpTimer = null;
    // sentAt is per connection: latency is measured only for frames sent on the one that acks them.
    for (const e of this.#p.outbox.entries()) e.sentAt = -1;
  }
}
