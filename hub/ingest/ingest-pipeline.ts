import type { Capability, DataFrame, Reading, Sample, Value } from '../../protocol/types.js';
import type { DeviceRegistry } from '../devices/device-registry.js';
import type { CommittedEvent, CommittedReading, EventBus } from '../events.js';
import type { Logger } from '../logger.js';
import type { HubStore } from '../storage/hub-store.js';
import type { CommitBatch } from '../storage/types.js';
import { systemTimers, type TimerHandle, type Timers } from '../timers.js';

/** What ingest needs of storage: sequence state, series ids and the group commit (HubStore in production). */
export type IngestStore = Pick<HubStore, 'committedSeqs' | 'seriesId' | 'commit'>;

export interface IngestOptions {
  /**
   * Longest a reading waits for its group commit. 0: commit once per turn of the event loop, after every
   * message that arrived in that turn was taken (the group forms itself under load, and a lone reading waits
   * for no timer).
   */
  commitIntervalMs: number;
  /** Pending readings that trigger a commit at once. */
  commitMaxReadings: number;
  /** Pending readings above which `onPressure(true)` asks the hub to stop reading from devices. */
  maxPendingReadings: number;
  now: () => number;
  log: Logger;
  onPressure: (paused: boolean) => void;
  /** Told of each successful commit: readings, seconds the transaction took, seconds its oldest frame waited for its ACK. */
  onCommit?: (readings: number, commitSeconds: number, ackWaitSeconds: number) => void;
  /** Runs the commit-interval and retry timers (default Node's); a 0 interval always uses setImmediate. */
  timers?: Timers;
}

/** How far ahead of the hub a device clock may run before its timestamp is replaced [FP-8.6]. */
export const MAX_CLOCK_AHEAD_MS = 60_000;
/** How often a failed commit is retried. */
export const COMMIT_RETRY_MS = 1000;

export interface IngestStats {
  framesAccepted: number;
  duplicates: number;
  readingsAccepted: number;
  readingsCommitted: number;
  eventsCommitted: number;
  commits: number;
  commitFailures: number;
  clockSkewed: number;
  pendingReadings: number;
  faulted: boolean;
  lastCommitMs: number;
}

/** The connection a frame arrived on: its ACK goes back the same way, with no lookup by device id. */
export interface AckChannel {
  readonly deviceId: string;
  /** Sends ACK{seq}; a no-op once the connection is closed. */
  ack(seq: number): void;
}

interface Pending {
  batch: CommitBatch;
  notify: Map<string, { readings: CommittedReading[]; events: CommittedEvent[] }>;
  /** Connections whose frames are in this batch, acknowledged after it commits. */
  ackTo: Set<AckChannel>;
}

/**
 * Accepted data frames -> group commit (one transaction per batch) -> ACK -> committed events on the bus.
 * Sequence state is committed with the readings, so a resent frame is acknowledged but never stored twice.
 */
export class IngestPipeline {
  readonly #store: IngestStore;
  readonly #registry: DeviceRegistry;
  readonly #bus: EventBus;
  readonly #opts: IngestOptions;
  readonly #timers: Timers;
  /** Highest seq durably stored, per device. */
  readonly #committed = new Map<string, number>();
  /** Highest seq accepted (committed or waiting in #pending), per device. */
  readonly #accepted = new Map<string, number>();
  /** Connections owed an ACK after the next commit (they resent frames still pending). */
  readonly #ackWanted = new Set<AckChannel>();
  #pending: Pending = emptyPending();
  /** When the oldest frame of #pending was accepted (performance.now()). */
  #pendingSince = 0;
  #timer: TimerHandle | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #paused = false;
  readonly stats: IngestStats = {
    framesAccepted: 0,
    duplicates: 0,
    readingsAccepted: 0,
    readingsCommitted: 0,
    eventsCommitted: 0,
    commits: 0,
    commitFailures: 0,
    clockSkewed: 0,
    pendingReadings: 0,
    faulted: false,
    lastCommitMs: 0,
  };

  constructor(store: IngestStore, registry: DeviceRegistry, bus: EventBus, opts: IngestOptions) {
    this.#store = store;
    this.#registry = registry;
    this.#bus = bus;
    this.#opts = opts;
    this.#timers = opts.timers ?? systemTimers;
  }

  start(): void {
    for (const [id, seq] of this.#store.committedSeqs()) {
      this.#committed.set(id, seq);
      this.#accepted.set(id, seq);
    }
  }

  /** Cancels pending commit and retry timers (after the hub's final flush; what is left stays unacknowledged). */
  stop(): void {
    this.#cancelTimers();
  }

  /** Highest sequence durably stored for the device: WELCOME.nextSeq is this + 1 [FP-8.4]. */
  committedSeq(deviceId: string): number {
    return this.#committed.get(deviceId) ?? 0;
  }

  /**
   * Takes one validated data frame that arrived on `from`, with the capability of each of its readings (in
   * frame order, as resolveCapabilities gives them); it is acknowledged on `from` once durable.
   */
  accept(from: AckChannel, frame: DataFrame, caps: readonly Capability[]): void {
    const deviceId = from.deviceId;
    const now = this.#opts.now();
    const accepted = this.#accepted.get(deviceId) ?? 0;
    if (frame.seq <= accepted) {
      // [FP-8.7] duplicate: acknowledge once its original is durable, store nothing.
      this.stats.duplicates += 1;
      if (frame.seq <= this.committedSeq(deviceId)) from.ack(this.committedSeq(deviceId));
      else this.#ackWanted.add(from);
      return;
    }
    this.#accepted.set(deviceId, frame.seq);
    this.stats.framesAccepted += 1;
    if (this.#pending.batch.seqs.size === 0) this.#pendingSince = performance.now();
    const { batch, notify, ackTo } = this.#pending;
    ackTo.add(from);
    let note = notify.get(deviceId);
    if (!note) {
      note = { readings: [], events: [] };
      notify.set(deviceId, note);
    }
    switch (frame.type) {
      case 'telemetry': {
        const ts = this.#stamp(frame.ts, now);
        for (let i = 0; i < frame.readings.length; i++) this.#addReading(deviceId, caps[i]!, frame.readings[i]!, ts, note.readings, batch);
        break;
      }
      case 'batch':
        for (let i = 0; i < frame.samples.length; i++) {
          const s = frame.samples[i]!;
          this.#addReading(deviceId, caps[i]!, s, this.#stamp(s.ts, now), note.readings, batch);
        }
        break;
      case 'event': {
        const cap = caps[0]!;
        const ts = this.#stamp(frame.ts, now);
        batch.events.push({ deviceId, name: cap.name, ts, value: frame.value });
        note.events.push({ name: cap.name, ts, value: frame.value });
        break;
      }
    }
    batch.seqs.set(deviceId, frame.seq);
    batch.lastSeen.set(deviceId, now);
    this.stats.pendingReadings = batch.readings.length;
    if (batch.readings.length >= this.#opts.commitMaxReadings) {
      if (!this.stats.faulted) this.flush();
    } else if (!this.#timer && !this.#immediate) {
      if (this.#opts.commitIntervalMs === 0) this.#immediate = setImmediate(() => this.flush());
      else this.#timer = this.#timers.setTimeout(() => this.flush(), this.#opts.commitIntervalMs);
    }
    if (this.#pending.batch.readings.length >= this.#opts.maxPendingReadings && !this.#paused) {
      this.#paused = true; // storage is failing and the backlog is large: let TCP push back on devices
      this.#opts.onPressure(true);
    }
  }

  /** Commits everything pending in one transaction; false (and a retry scheduled) if the store failed. */
  flush(): boolean {
    this.#cancelTimers();
    const pending = this.#pending;
    if (pending.batch.seqs.size === 0 && this.#ackWanted.size === 0) return true;
    const started = performance.now();
    try {
      if (pending.batch.seqs.size > 0) this.#store.commit(pending.batch);
    } catch (err) {
      this.stats.commitFailures += 1;
      if (!this.stats.faulted) {
        this.stats.faulted = true;
        this.#opts.log.error({ err: (err as Error).message, pending: pending.batch.readings.length },
          'storage write failed: acknowledgements stopped, devices keep their backlog; retrying every second');
      }
      this.#timer = this.#timers.setTimeout(() => this.flush(), COMMIT_RETRY_MS);
      return false;
    }
    this.#pending = emptyPending();
    this.stats.lastCommitMs = performance.now() - started;
    this.stats.commits += 1;
    this.stats.readingsCommitted += pending.batch.readings.length;
    this.stats.eventsCommitted += pending.batch.events.length;
    this.stats.pendingReadings = 0;
    if (this.stats.faulted) {
      this.stats.faulted = false;
      this.#opts.log.warn({ readings: pending.batch.readings.length }, 'storage writes succeed again: acknowledging resumed');
    }
    if (this.#paused) {
      this.#paused = false;
      this.#opts.onPressure(false);
    }
    for (const [id, seq] of pending.batch.seqs) this.#committed.set(id, seq);
    for (const channel of this.#ackWanted) pending.ackTo.add(channel);
    this.#ackWanted.clear();
    for (const channel of pending.ackTo) channel.ack(this.committedSeq(channel.deviceId));
    if (pending.batch.seqs.size > 0) {
      this.#opts.onCommit?.(pending.batch.readings.length, this.stats.lastCommitMs / 1000, (performance.now() - this.#pendingSince) / 1000);
    }
    for (const [deviceId, note] of pending.notify) {
      this.#registry.applyCommitted(deviceId, note.readings, pending.batch.lastSeen.get(deviceId));
      if (note.readings.length > 0) this.#bus.emit('readings', { deviceId, readings: note.readings });
      if (note.events.length > 0) this.#bus.emit('event', { deviceId, events: note.events });
    }
    return true;
  }

  #cancelTimers(): void {
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    clearImmediate(this.#immediate);
    this.#immediate = undefined;
  }

  #addReading(deviceId: string, cap: Capability, r: Reading | Sample, ts: number, notes: CommittedReading[], batch: CommitBatch): void {
    const series = this.#store.seriesId(deviceId, cap.name, cap.valueType);
    batch.readings.push({ series, ts, value: r.value });
    notes.push({ metric: cap.name, ts, value: r.value as Value });
    this.stats.readingsAccepted += 1;
  }

  /** [FP-8.6] 0 means "no clock": hub time; a clock far ahead of the hub's is replaced by hub time. */
  #stamp(ts: number, now: number): number {
    if (ts === 0) return now;
    if (ts > now + MAX_CLOCK_AHEAD_MS) {
      this.stats.clockSkewed += 1;
      return now;
    }
    return ts;
  }
}

function emptyPending(): Pending {
  return { batch: { readings: [], events: [], seqs: new Map(), lastSeen: new Map() }, notify: new Map(), ackTo: new Set() };
}
