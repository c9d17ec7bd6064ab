import type { Capability, DataFrame, Reading, Sample, Value } from '../../protocol/types.js';
import type { DeviceRegistry } from '../devices/device-registry.js';
import type { CommittedReading, EventBus } from '../events.js';
import type { Logger } from '../logger.js';
import { FencedError } from '../storage/pg/fenced-error.js';
import { REOPEN_CAUSES } from '../storage/fault-cause.js';
import { CommitFaults, type CommitFailureCause, type StorageFault } from './commit-faults.js';
import { andThen, isThenable } from '../storage/maybe-promise.js';
import type { Fence, HubStoreContract, MaybePromise } from '../storage/store-contract.js';
import type { CommitBatch } from '../storage/types.js';
import { systemTimers, type TimerHandle, type Timers } from '../timers.js';
import { DeviceFences } from './device-fences.js';
import { emptyPending, type Pending } from './pending-batch.js';

/**
 * What ingest needs of storage: sequence state, series ids, the group commit (with the fence of the devices
 * this hub claimed, PostgreSQL) and, after a fault, a fresh connection (SQLite). Answers are values (SQLite:
 * handled at once, no await) or Promises (PostgreSQL), told apart by isThenable.
 */
export type IngestStore = Pick<HubStoreContract, 'committedSeqs' | 'seriesId'> & {
  commit(batch: CommitBatch, fence?: Fence): MaybePromise<void>;
  reopen?(): void;
};

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
  /**
   * Several hubs on one database (PostgreSQL): a device's frames are taken only while this hub holds its
   * claim (own()), and every commit carries the claims' epochs. Default false: one hub, no claims (SQLite).
   */
  fenced?: boolean;
}

/** How far ahead of the hub a device clock may run before its timestamp is replaced [FP-8.6]. */
export const MAX_CLOCK_AHEAD_MS = 60_000;
export { BUSY_RETRY_MS, COMMIT_RETRY_MS, commitFailureCause, type CommitFailureCause, type StorageFault } from './commit-faults.js';

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
  /** Another hub claimed the device (a commit was fenced): the connection ends with 4009, unacknowledged. */
  lost?(message: string): void;
}

/**
 * Accepted data frames -> group commit (one transaction per batch) -> ACK -> committed events on the bus.
 * Sequence state is committed with the readings, so a resent frame is acknowledged but never stored twice.
 * While storage fails, frames queue in batches of at most commitMaxReadings, committed oldest first: a
 * backlog is stored as space allows, never as one transaction too large for the space freed.
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
  /** Batches waiting for their commit, oldest first; the last one takes new frames. Never empty. */
  #queue: Pending[] = [emptyPending()];
  #pendingCount = 0;
  readonly #faults: CommitFaults;
  #reopenWanted = false;
  /** Series ids of the frame being accepted, resolved before it changes any state. */
  readonly #series: number[] = [];
  /** The claims this hub holds (PostgreSQL, several hubs); empty on SQLite. */
  readonly #fences = new DeviceFences();
  /** The asynchronous commit (PostgreSQL) in progress and the rest of its flush; undefined between. */
  #inFlight: Promise<boolean> | undefined;
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
    this.#faults = new CommitFaults(opts.log, opts.now);
  }

  /** Commit failures since start, by cause (hearth_commit_failures_total). */
  get failuresByCause(): ReadonlyMap<CommitFailureCause, number> {
    return this.#faults.byCause;
  }

  /** Loads the committed sequence of every device (a Promise when the store answers with one). */
  start(): MaybePromise<void> {
    return andThen(this.#store.committedSeqs(), (all) => {
      for (const [id, seq] of all) {
        this.#committed.set(id, seq);
        this.#accepted.set(id, seq);
      }
    });
  }

  /**
   * This hub claimed the device (HELLO, issue #16 section 2): from now its frames are committed under
   * `epoch` and refused (FencedError) once another hub claims it. `committedSeq` is the database's, which
   * another hub may have moved on while it held the device; frames still queued under an older claim are
   * fenced out by the commit and resent by the device.
   */
  own(deviceId: string, epoch: number, committedSeq: number): void {
    this.#fences.claim(deviceId, epoch);
    this.#committed.set(deviceId, committedSeq);
    this.#accepted.set(deviceId, committedSeq);
    // The open batch may hold frames of the older claim: newer ones go to a batch of their own (one epoch each).
    if (this.#queue.at(-1)!.fence?.has(deviceId)) this.#queue.push(emptyPending());
  }

  /**
   * Another hub claimed the device (HubCluster heard it): from now its frames are refused here (4009). Frames
   * already queued stay: their commit is fenced if the claim was newer, as it is.
   */
  release(deviceId: string): void {
    this.#fences.release(deviceId);
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
  accept(from: AckChannel, frame: DataFrame, caps: readonly Capability[]): void | Promise<void> {
    const deviceId = from.deviceId;
    // Lost to another hub (or never claimed): nothing of it may be committed here, not even unfenced.
    if (this.#opts.fenced && !this.#fences.holds(deviceId)) return from.lost?.('this hub no longer holds the device; send the unacknowledged frames to the hub that does');
    const now = this.#opts.now();
    const accepted = this.#accepted.get(deviceId) ?? 0;
    if (frame.seq <= accepted) {
      // [FP-8.7] duplicate: acknowledge once its original is durable, store nothing.
      this.stats.duplicates += 1;
      if (frame.seq <= this.committedSeq(deviceId)) from.ack(this.committedSeq(deviceId));
      else this.#ackWanted.add(from);
      return;
    }
    // Series first, before any state changes: a new metric needs a write, which a failing store refuses;
    // the frame is then not taken at all (thrown: the session closes, the device resends it [FP-8.4]).
    const series = this.#series;
    series.length = 0;
    const metrics = frame.type === 'event' ? 0 : caps.length;
    let resolving: Promise<number>[] | undefined;
    for (let i = 0; i < metrics; i++) {
      const id = this.#store.seriesId(deviceId, caps[i]!.name, caps[i]!.valueType);
      if (typeof id === 'number') series.push(id);
      else (resolving ??= []).push(id);
    }
    // A new series on PostgreSQL: taken once it exists (the session holds the device's next frames meanwhile).
    if (resolving) return Promise.all(resolving).then(() => this.accept(from, frame, caps));
    this.#accepted.set(deviceId, frame.seq);
    this.stats.framesAccepted += 1;
    let pending = this.#queue.at(-1)!;
    if (pending.batch.readings.length >= this.#opts.commitMaxReadings) this.#queue.push((pending = emptyPending()));
    if (pending.batch.seqs.size === 0) pending.since = performance.now();
    const { batch, notify, ackTo } = pending;
    const before = batch.readings.length;
    ackTo.add(from);
    if (this.#fences.active) this.#fences.stamp(pending, deviceId, series);
    let note = notify.get(deviceId);
    if (!note) {
      note = { readings: [], events: [] };
      notify.set(deviceId, note);
    }
    switch (frame.type) {
      case 'telemetry': {
        const ts = this.#stamp(frame.ts, now);
        for (let i = 0; i < frame.readings.length; i++) this.#addReading(series[i]!, caps[i]!, frame.readings[i]!, ts, note.readings, batch);
        break;
      }
      case 'batch':
        for (let i = 0; i < frame.samples.length; i++) {
          const s = frame.samples[i]!;
          this.#addReading(series[i]!, caps[i]!, s, this.#stamp(s.ts, now), note.readings, batch);
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
    this.#pendingCount += batch.readings.length - before;
    this.stats.pendingReadings = this.#pendingCount;
    if (batch.readings.length >= this.#opts.commitMaxReadings) {
      if (!this.#faults.current) this.flush();
    } else if (!this.#timer && !this.#immediate) {
      if (this.#opts.commitIntervalMs === 0) this.#immediate = setImmediate(() => this.flush());
      else this.#timer = this.#timers.setTimeout(() => this.flush(), this.#opts.commitIntervalMs);
    }
    if (this.#pendingCount >= this.#opts.maxPendingReadings && !this.#paused) {
      this.#paused = true; // storage is failing and the backlog is large: let TCP push back on devices
      this.#opts.onPressure(true);
    }
  }

  /** The storage fault in progress, undefined while commits succeed. */
  get fault(): StorageFault | undefined {
    return this.#faults.current;
  }

  /**
   * Commits every pending batch, oldest first, one transaction each, acknowledging each as it commits; false
   * (and a retry scheduled) if the store failed. Never waits on a lock: SQLITE_BUSY is retried on a timer.
   * On a store that commits asynchronously (PostgreSQL) it answers with a Promise of the same, and a call
   * while a commit is in flight joins that flush, which goes on with what arrived meanwhile.
   */
  flush(): boolean | Promise<boolean> {
    if (this.#inFlight) return this.#inFlight;
    this.#cancelTimers();
    if (this.#reopenWanted && !this.#reopen()) return false;
    while (this.#head().batch.seqs.size > 0) {
      const pending = this.#queue[0]!;
      const started = performance.now();
      let done: MaybePromise<void>;
      try {
        done = this.#store.commit(pending.batch, pending.fence);
      } catch (err) {
        this.#failed(err);
        return false;
      }
      if (isThenable(done)) return (this.#inFlight = this.#awaitCommit(pending, started, done));
      if (this.#queue.length > 1) this.#queue.shift();
      else this.#queue[0] = emptyPending();
      this.#committedBatch(pending, performance.now() - started);
    }
    this.#flushed();
    return true;
  }

  /** The oldest batch, past batches a fence emptied (the last one stays: it takes new frames). */
  #head(): Pending {
    while (this.#queue.length > 1 && this.#queue[0]!.batch.seqs.size === 0) this.#queue.shift();
    return this.#queue[0]!;
  }

  /** The rest of flush() once an asynchronous commit of `pending` (queue[0]) ends; never rejects. */
  async #awaitCommit(pending: Pending, started: number, done: Promise<void>): Promise<boolean> {
    // New frames go to a batch of their own: this one is being written.
    if (this.#queue.length === 1) this.#queue.push(emptyPending());
    try {
      await done;
    } catch (err) {
      this.#inFlight = undefined;
      if (err instanceof FencedError) {
        this.#dropFenced(err.devices, pending);
        return this.flush(); // the rest of the batch, without them
      }
      this.#failed(err);
      return false;
    }
    this.#queue.shift();
    if (this.#queue.length === 0) this.#queue.push(emptyPending());
    this.#committedBatch(pending, performance.now() - started);
    this.#inFlight = undefined;
    return this.flush();
  }

  /**
   * Another hub claimed these devices since `fenced` was accepted: nothing of it was stored. Their frames
   * leave that batch (and every later one of the same claim), their connections end with 4009 unacknowledged
   * [FP-10.3], and the device resends them to the hub that holds it now.
   */
  #dropFenced(devices: readonly string[], fenced: Pending): void {
    const { lost, readings } = this.#fences.drop(devices, fenced, this.#queue);
    this.#pendingCount -= readings;
    this.stats.pendingReadings = this.#pendingCount;
    for (const { deviceId, epoch } of lost) {
      this.#accepted.set(deviceId, this.committedSeq(deviceId));
      for (const channel of this.#ackWanted) if (channel.deviceId === deviceId) this.#ackWanted.delete(channel);
      // Once per loss: later batches of the same claim were dropped with this one.
      this.#opts.log.warn({ device: deviceId, epoch }, 'another hub claimed this device: its commit was fenced, its connection closes (4009) and it resends there');
    }
  }

  /** Every pending batch committed: the fault (if any) is over and the ACKs owed for resent frames go out. */
  #flushed(): void {
    this.#recovered();
    if (this.#ackWanted.size > 0) {
      for (const channel of this.#ackWanted) channel.ack(this.committedSeq(channel.deviceId));
      this.#ackWanted.clear();
    }
  }

  #committedBatch(pending: Pending, commitMs: number): void {
    const readings = pending.batch.readings.length;
    this.#pendingCount -= readings;
    this.stats.pendingReadings = this.#pendingCount;
    this.stats.lastCommitMs = commitMs;
    this.stats.commits += 1;
    this.stats.readingsCommitted += readings;
    this.stats.eventsCommitted += pending.batch.events.length;
    // Never back: a claim (own()) may have read a newer seq from the database before this commit's answer came.
    for (const [id, seq] of pending.batch.seqs) if (seq > (this.#committed.get(id) ?? 0)) this.#committed.set(id, seq);
    for (const channel of pending.ackTo) channel.ack(this.committedSeq(channel.deviceId));
    this.#opts.onCommit?.(readings, commitMs / 1000, (performance.now() - pending.since) / 1000);
    for (const [deviceId, note] of pending.notify) {
      this.#registry.applyCommitted(deviceId, note.readings, pending.batch.lastSeen.get(deviceId));
      if (note.readings.length > 0) this.#bus.emit('readings', { deviceId, readings: note.readings });
      if (note.events.length > 0) this.#bus.emit('event', { deviceId, events: note.events });
    }
  }

  /** Records a failed commit (or reopen) and schedules the retry: soon for a lock held elsewhere, else each second. */
  #failed(err: unknown): void {
    const { cause, delayMs } = this.#faults.failed(err, this.#pendingCount);
    this.stats.commitFailures += 1;
    this.stats.faulted = true;
    if (REOPEN_CAUSES.has(cause) && this.#store.reopen) this.#reopenWanted = true;
    this.#timer = this.#timers.setTimeout(() => this.flush(), delayMs);
  }

  /** A fresh connection for a store whose connection may be broken; false (retry scheduled) if it cannot open. */
  #reopen(): boolean {
    try {
      this.#store.reopen!();
      this.#reopenWanted = false;
      return true;
    } catch (err) {
      this.#failed(err);
      return false;
    }
  }

  #recovered(): void {
    this.#faults.recovered();
    this.stats.faulted = false;
    if (this.#paused) {
      this.#paused = false;
      this.#opts.onPressure(false);
    }
  }

  #cancelTimers(): void {
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    clearImmediate(this.#immediate);
    this.#immediate = undefined;
  }

  #addReading(series: number, cap: Capability, r: Reading | Sample, ts: number, notes: CommittedReading[], batch: CommitBatch): void {
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
