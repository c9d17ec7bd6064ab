import type { DeviceInfo, HubEvents } from '../events.js';
import type { DeviceFacade } from '../facade.js';
import { valueToJson } from '../../protocol/value-form.js';
import type { TimerHandle, Timers } from '../timers.js';
import type { MqttLogger } from './logger.js';
import { encodePayload, type DeviceStatePayload, type StreamReading, type TopicMessage, type Topics } from './topics.js';

export interface StateMirrorOptions {
  facade: DeviceFacade;
  topics: Topics;
  logger: MqttLogger;
  /** An unchanged state is re-sent at most this often, when a reading arrives; 0: never (mqtt.stateHeartbeatMs). */
  stateHeartbeatMs: number;
  /**
   * A device's state goes out at most once in this many ms (mqtt.stateMinIntervalMs): the first change at
   * once, later ones within the interval together at its end, the latest value winning; 0: every turn.
   */
  stateMinIntervalMs: number;
  now: () => number;
  timers: Timers;
  /** The device when it is published on MQTT at all (HubMirror's rule for ids that cannot be a topic level). */
  deviceFor: (deviceId: string) => DeviceInfo | undefined;
  /** Hands a message to the broker (paced while HubMirror re-publishes). */
  send: (message: TopicMessage) => Promise<void>;
  /** Resolves once HubMirror's queue (discovery, removals) has drained up to now. */
  queued: () => Promise<void>;
  /** A plain metric topic now holds a retained value of the device (HubMirror clears it when the metric goes). */
  retained: (deviceId: string, topic: string) => void;
}

/** Unpublished stream readings kept per device; beyond it the oldest are dropped (and counted). */
const MAX_STREAM_PER_DEVICE = 20_000;

/** Shortest wait of the timer that releases held states: held devices that fall due together go out together. */
const MIN_HOLD_TIMER_MS = 10;

/** Device states handed to the broker and not yet confirmed, beyond which a flush waits for its own. */
const MAX_STATES_IN_FLIGHT = 1000;

/**
 * The state half of the topic tree: `<base>/<device>` (state JSON), its plain metric topics and the lossless
 * `<base>/<device>/readings` stream, fed by committed readings and flushed once per event-loop turn. State
 * goes out on change (or every stateHeartbeatMs), so a fleet repeating its values costs the broker little,
 * and at most once per stateMinIntervalMs per device: at 20,000 one-reading frames a second, state and metric
 * topics were two of every three publishes and held the device -> subscriber latency at ~50 ms (issue #17 §1),
 * while the readings stream, which carries every reading, goes out every turn.
 */
export class StateMirror {
  readonly #o: StateMirrorOptions;
  /** Metrics with new readings per device, waiting for their state publish (coalesces bursts). */
  readonly #dirty = new Map<string, Set<string>>();
  /** Committed readings per device not yet published on `<base>/<device>/readings`. */
  readonly #stream = new Map<string, StreamReading[]>();
  /** Per device: its values (no timestamps) as last published, and when; state goes out on change [issue §2]. */
  readonly #lastState = new Map<string, { values: string; at: number }>();
  /** Plain metric topic -> payload last published. */
  readonly #lastMetric = new Map<string, string>();
  /** Dirty devices whose last state went out less than stateMinIntervalMs ago: their metrics, and when they fall due. */
  readonly #held = new Map<string, { metrics: Set<string>; due: number }>();
  #holdTimer: { handle: TimerHandle; at: number } | undefined;
  readonly #flushWaiters: (() => void)[] = [];
  #flushScheduled: NodeJS.Immediate | undefined;
  #flushing = false;
  #inFlight = 0;
  /** Readings dropped from the stream because a device got more than MAX_STREAM_PER_DEVICE ahead. */
  streamDropped = 0;

  constructor(opts: StateMirrorOptions) {
    this.#o = opts;
  }

  /** Notes committed readings for the next flush (EventBus 'readings'). */
  onReadings({ deviceId, readings }: HubEvents['readings']): void {
    let metrics = this.#dirty.get(deviceId);
    if (!metrics) {
      metrics = new Set();
      this.#dirty.set(deviceId, metrics);
    }
    for (const r of readings) metrics.add(r.metric);
    let stream = this.#stream.get(deviceId);
    if (!stream) this.#stream.set(deviceId, (stream = []));
    // Only enum values need their capability (option names); the rest skip the device lookup on this hot path.
    let caps: DeviceInfo['capabilities'] | undefined;
    for (const r of readings) {
      const cap = r.value.type === 'enum' ? (caps ??= this.#o.facade.device(deviceId)?.capabilities)?.find((c) => c.name === r.metric) : undefined;
      stream.push({ metric: r.metric, value: valueToJson(cap, r.value), ts: r.ts });
    }
    if (stream.length > MAX_STREAM_PER_DEVICE) {
      const excess = stream.length - MAX_STREAM_PER_DEVICE;
      stream.splice(0, excess);
      this.streamDropped += excess;
    }
    this.#scheduleFlush();
  }

  /** Resolves when no flush is pending or running. */
  async idle(): Promise<void> {
    if (this.#flushing || this.#flushScheduled || this.#dirty.size > 0 || this.#held.size > 0) {
      await new Promise<void>((resolve) => this.#flushWaiters.push(resolve));
    }
  }

  /**
   * Stops the hold timer and drops the held states (the bridge is stopping; its next start re-publishes every
   * state anyway); idle() waiters are let go.
   */
  stop(): void {
    if (this.#holdTimer) this.#o.timers.clearTimeout(this.#holdTimer.handle);
    this.#holdTimer = undefined;
    this.#held.clear();
    if (!this.#flushing && !this.#flushScheduled && this.#dirty.size === 0) for (const resolve of this.#flushWaiters.splice(0)) resolve();
  }

  /** Forgets a removed device (its pending state and what was last published); `metricTopics` were its plain topics. */
  forget(deviceId: string, metricTopics: Iterable<string>): void {
    this.#dirty.delete(deviceId);
    this.#held.delete(deviceId);
    this.#lastState.delete(deviceId);
    for (const topic of metricTopics) this.#lastMetric.delete(topic);
  }

  /**
   * State JSON plus the plain topic of each metric in `metrics` (every metric when null), only when a value
   * changed since the last publish, or stateHeartbeatMs passed, or `force` (re-publishing the retained tree).
   * Readings that repeat a value still go out on the lossless `readings` stream.
   */
  async publishState(deviceId: string, metrics: Set<string> | null, force: boolean): Promise<void> {
    if (!this.#o.deviceFor(deviceId)) return;
    const state: DeviceStatePayload = this.#o.facade.currentState(deviceId);
    const values = JSON.stringify(Object.entries(state).map(([m, v]) => [m, v.value]));
    const now = this.#o.now();
    const last = this.#lastState.get(deviceId);
    const heartbeat = this.#o.stateHeartbeatMs > 0 && last !== undefined && now - last.at >= this.#o.stateHeartbeatMs;
    if (!force && !heartbeat && last?.values === values) return;
    this.#lastState.set(deviceId, { values, at: now });
    // Distinct topics: handed to the broker together rather than one round trip each.
    const sends: Promise<void>[] = [];
    for (const [metric, current] of Object.entries(state)) {
      if (metrics && !metrics.has(metric)) continue;
      const topic = this.#o.topics.metric(deviceId, metric);
      if (topic === null) continue;
      const message: TopicMessage = { kind: 'metric', topic, payload: current.value };
      const payload = encodePayload(message);
      if (!force && !heartbeat && this.#lastMetric.get(topic) === payload) continue;
      this.#lastMetric.set(topic, payload);
      this.#o.retained(deviceId, topic);
      sends.push(this.#o.send(message));
    }
    sends.push(this.#o.send({ kind: 'state', topic: this.#o.topics.state(deviceId), payload: state }));
    await Promise.all(sends);
  }

  /**
   * State publishes leave once per event-loop turn for every device with new readings, all at once rather than
   * one device after another: a serial queue let a busy hub publish only ~100 states/s. While a flush is in
   * flight, new readings coalesce into the next one (the latest value wins; no backlog can build up).
   */
  #scheduleFlush(): void {
    if (this.#flushing || this.#flushScheduled) return;
    this.#flushScheduled = setImmediate(() => void this.#flush());
  }

  async #flush(): Promise<void> {
    this.#flushScheduled = undefined;
    this.#flushing = true;
    const batch = this.#due();
    const streams = [...this.#stream];
    this.#stream.clear();
    const log = this.#o.logger;
    try {
      // Behind discovery and removals already queued, so a state never precedes its device's announcement.
      await this.#o.queued();
      const sent = Promise.all([
        ...batch.map(([deviceId, metrics]) => this.publishState(deviceId, metrics, false)),
        ...streams.map(([deviceId, readings]) =>
          this.#o.deviceFor(deviceId) ? this.#o.send({ kind: 'readings', topic: this.#o.topics.readings(deviceId), payload: readings }) : undefined,
        ),
      ]);
      this.#inFlight += batch.length;
      void sent.finally(() => (this.#inFlight -= batch.length)).catch((err: unknown) => log.error({ err: String(err) }, 'MQTT publish failed'));
      // The broker routes publishes in the order they were handed over, so the next flush need not wait for
      // this one: only when the broker falls far behind does the mirror wait (and readings coalesce meanwhile).
      if (this.#inFlight > MAX_STATES_IN_FLIGHT) await sent;
    } catch (err) {
      log.error({ err }, 'MQTT publish failed');
    } finally {
      this.#flushing = false;
    }
    if (this.#dirty.size > 0) this.#scheduleFlush();
    else if (this.#held.size === 0) for (const resolve of this.#flushWaiters.splice(0)) resolve();
  }

  /**
   * Takes the dirty devices: those whose state may go out now (with any metrics held for them), and holds the
   * others until their interval ends, arming the timer for the first of them.
   */
  #due(): [string, Set<string>][] {
    const min = this.#o.stateMinIntervalMs;
    const now = this.#o.now();
    const due: [string, Set<string>][] = [];
    for (const [deviceId, metrics] of this.#dirty) {
      const held = this.#held.get(deviceId);
      const at = this.#lastState.get(deviceId)?.at;
      const dueAt = min > 0 && at !== undefined ? at + min : now;
      if (dueAt > now) {
        if (held) for (const m of metrics) held.metrics.add(m);
        else this.#held.set(deviceId, { metrics, due: dueAt });
        continue;
      }
      if (held) {
        for (const m of held.metrics) metrics.add(m);
        this.#held.delete(deviceId);
      }
      due.push([deviceId, metrics]);
    }
    this.#dirty.clear();
    let first = Infinity;
    for (const { due: at } of this.#held.values()) first = Math.min(first, at);
    if (first !== Infinity) this.#armHoldTimer(Math.max(first, now + MIN_HOLD_TIMER_MS));
    return due;
  }

  /** Releases the held devices that are due at `at` (they go back to dirty for the next flush). */
  #armHoldTimer(at: number): void {
    if (this.#holdTimer && this.#holdTimer.at <= at) return;
    if (this.#holdTimer) this.#o.timers.clearTimeout(this.#holdTimer.handle);
    const handle = this.#o.timers.setTimeout(() => {
      this.#holdTimer = undefined;
      const now = this.#o.now();
      for (const [deviceId, held] of this.#held) {
        if (held.due > now || this.#dirty.has(deviceId)) continue;
        this.#dirty.set(deviceId, held.metrics);
        this.#held.delete(deviceId);
      }
      let first = Infinity;
      for (const { due } of this.#held.values()) first = Math.min(first, due);
      if (first !== Infinity) this.#armHoldTimer(Math.max(first, now + MIN_HOLD_TIMER_MS));
      this.#scheduleFlush();
    }, Math.max(0, at - this.#o.now()));
    this.#holdTimer = { handle, at };
  }
}
