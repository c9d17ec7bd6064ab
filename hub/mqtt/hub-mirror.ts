import type { CommittedEvent, DeviceInfo, HubEvents } from '../events.js';
import type { DeviceFacade } from '../facade.js';
import { valueToJson } from '../../protocol/value-form.js';
import { parseCommandPayload } from './command-payload.js';
import { runCommand } from './run-command.js';
import { DevicesList } from './devices-list.js';
import { bridgeDiscovery, discoveryFor, eventHasState, type DiscoveryConfig, type DiscoveryOptions } from './discovery.js';
import type { MqttLogger } from './logger.js';
import type { Publisher } from './publisher.js';
import { RatePacer } from './rate-pacer.js';
import type { Timers } from '../timers.js';
import {
  RETAINED,
  encodePayload,
  isTopicSafeId,
  type DeviceStatePayload,
  type StreamReading,
  type TopicMessage,
  type Topics,
} from './topics.js';

export interface HubMirrorOptions {
  facade: DeviceFacade;
  publisher: Publisher;
  topics: Topics;
  /** Publish Home Assistant discovery configs. */
  discovery: boolean;
  /** Mode, hub version and URL for the discovery configs (default: device-based, no URL). */
  discoveryOptions?: DiscoveryOptions;
  logger: MqttLogger;
  /** Longest random wait before re-publishing after Home Assistant's birth message (mqtt.rediscoverDelayMs). */
  rediscoverDelayMs: number;
  /** Retained publishes per second while re-publishing (mqtt.rediscoverRate). */
  rediscoverRate: number;
  /** An unchanged state is re-sent at most this often, when a reading arrives; 0: never (mqtt.stateHeartbeatMs). */
  stateHeartbeatMs: number;
  /** Retained `<base>/bridge/canary` payload marking this hub's retained set (external brokers); null: none. */
  canary: string | null;
  now: () => number;
  timers: Timers;
  /** In [0, 1); Math.random in production. */
  random: () => number;
}


/** Retained topics published for one device, so that they can be cleared when it or a capability goes. */
interface DeviceTopics {
  /** Discovery topic -> the config last published there. */
  discovery: Map<string, DiscoveryConfig>;
  metrics: Set<string>;
}

/**
 * Mirrors the hub into the MQTT topic tree through a Publisher: listens to the EventBus only (so what it
 * publishes was committed), and turns command messages into DeviceFacade.sendCommand calls. Publishes go
 * through one queue so that retained topics are set and cleared in the order the events happened.
 */
/** Unpublished stream readings kept per device; beyond it the oldest are dropped (and counted). */
const MAX_STREAM_PER_DEVICE = 20_000;

/** Device states handed to the broker and not yet confirmed, beyond which a flush waits for its own. */
const MAX_STATES_IN_FLIGHT = 1000;

export class HubMirror {
  readonly #facade: DeviceFacade;
  readonly #publisher: Publisher;
  readonly #topics: Topics;
  readonly #discovery: boolean;
  readonly #discoveryOptions: DiscoveryOptions;
  readonly #log: MqttLogger;
  #queue: Promise<void> = Promise.resolve();
  #detach: (() => void)[] = [];
  readonly #published = new Map<string, DeviceTopics>();
  /** Metrics with new readings per device, waiting for their state publish (coalesces bursts). */
  readonly #dirty = new Map<string, Set<string>>();
  #flushScheduled: NodeJS.Immediate | undefined;
  #flushing = false;
  #inFlight = 0;
  /** Committed readings per device not yet published on `<base>/<device>/readings`. */
  readonly #stream = new Map<string, StreamReading[]>();
  /** Readings dropped from the stream because a device got more than MAX_STREAM_PER_DEVICE ahead. */
  streamDropped = 0;
  readonly #flushWaiters: (() => void)[] = [];
  readonly #skipped = new Set<string>();
  readonly #list: DevicesList;
  /** Per device: its values (no timestamps) as last published, and when; state goes out on change [issue §2]. */
  readonly #lastState = new Map<string, { values: string; at: number }>();
  /** Plain metric topic -> payload last published. */
  readonly #lastMetric = new Map<string, string>();
  #rediscover: Promise<void> | undefined;
  #pacer: RatePacer | null = null;

  readonly #o: HubMirrorOptions;

  constructor(opts: HubMirrorOptions) {
    this.#o = opts;
    this.#facade = opts.facade;
    this.#publisher = opts.publisher;
    this.#topics = opts.topics;
    this.#discovery = opts.discovery;
    this.#discoveryOptions = opts.discoveryOptions ?? {};
    this.#log = opts.logger;
    this.#list = new DevicesList({
      facade: opts.facade,
      publisher: opts.publisher,
      topics: opts.topics,
      usable: (id) => this.#usable(id),
      enqueue: (job) => this.#enqueue(job),
      now: opts.now,
      timers: opts.timers,
    });
  }

  /** Starts following the EventBus. */
  attach(): void {
    if (this.#detach.length > 0) return;
    const bus = this.#facade.bus;
    this.#detach = [
      bus.on('readings', (p) => this.#onReadings(p)),
      bus.on('event', (p) => this.#onEvents(p)),
      bus.on('availability', (p) => this.#onAvailability(p)),
      bus.on('device.updated', (p) => this.#enqueue(() => this.#syncDevice(p.device, true))),
      bus.on('device.removed', (p) => this.#enqueue(() => this.#removeDevice(p.deviceId))),
    ];
  }

  /** Stops following the EventBus; queued publishes still go out (see idle()). */
  detach(): void {
    for (const off of this.#detach) off();
    this.#detach = [];
  }

  /**
   * Publishes every retained topic: bridge online, then per device discovery, availability and state, then the
   * list, then the canary (last: its presence on the broker vouches for everything before it).
   */
  publishAll(): Promise<void> {
    return this.#enqueue(async () => {
      await this.#send({ kind: 'bridgeState', topic: this.#topics.bridgeState(), payload: 'online' });
      if (this.#discovery) {
        for (const e of bridgeDiscovery(this.#topics, { ...this.#discoveryOptions, clearOtherMode: true })) {
          await this.#send({ kind: 'discovery', topic: e.topic, payload: e.config });
        }
      }
      for (const device of this.#facade.devices()) {
        await this.#syncDevice(device, false);
        await this.#publishState(device.id, null, true);
      }
      await this.#list.publish(true);
      if (this.#o.canary !== null) {
        await this.#send({ kind: 'bridgeCanary', topic: this.#topics.bridgeCanary(), payload: { instance: this.#o.canary } });
      }
    });
  }

  /**
   * Home Assistant came online (`<prefix>/status` = online): after a random wait of up to rediscoverDelayMs
   * (so that many hubs do not answer at once), re-publishes discovery, then availability and state, at no more
   * than rediscoverRate retained publishes a second. Births arriving meanwhile join the pending re-publish.
   */
  rediscover(): Promise<void> {
    if (this.#rediscover) return this.#rediscover;
    const delay = Math.floor(this.#o.random() * this.#o.rediscoverDelayMs);
    const run = new Promise<void>((resolve) => this.#o.timers.setTimeout(resolve, delay)).then(() => {
      // Taken when the job starts: a birth during the re-publish asks for another one after it.
      return this.#enqueue(async () => {
        this.#rediscover = undefined;
        this.#pacer = new RatePacer(this.#o.rediscoverRate, this.#o.now, this.#o.timers);
        try {
          const devices = this.#facade.devices();
          for (const device of devices) await this.#syncDevice(device, false);
          for (const device of devices) await this.#publishState(device.id, null, true);
        } finally {
          this.#pacer = null;
        }
      });
    });
    this.#rediscover = run;
    return run;
  }

  /** Marks the hub offline (retained), after everything queued before. */
  publishOffline(): Promise<void> {
    return this.#enqueue(() => this.#send({ kind: 'bridgeState', topic: this.#topics.bridgeState(), payload: 'offline' }));
  }

  /** Resolves when everything queued so far has been published, state flushes included. */
  async idle(): Promise<void> {
    await this.#list.idle();
    await this.#queue;
    if (this.#flushing || this.#flushScheduled || this.#dirty.size > 0) {
      await new Promise<void>((resolve) => this.#flushWaiters.push(resolve));
    }
    await this.#queue;
  }

  /** Runs the command a client published on `<base>/<device>/set/<command>` and publishes its result. */
  async handleCommand(deviceId: string, command: string, payload: Uint8Array, source: string): Promise<void> {
    const result = await runCommand(this.#facade, this.#log, deviceId, command, payload, source);
    if (result.status !== 'ok') {
      this.#log.info({ deviceId, command, source, status: result.status, message: result.message }, 'MQTT command not done');
    }
    await this.#enqueue(() =>
      this.#send({ kind: 'setResult', topic: this.#topics.setResult(deviceId, command), payload: result }),
    );
  }

  #onReadings({ deviceId, readings }: HubEvents['readings']): void {
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
      const cap = r.value.type === 'enum' ? (caps ??= this.#facade.device(deviceId)?.capabilities)?.find((c) => c.name === r.metric) : undefined;
      stream.push({ metric: r.metric, value: valueToJson(cap, r.value), ts: r.ts });
    }
    if (stream.length > MAX_STREAM_PER_DEVICE) {
      const excess = stream.length - MAX_STREAM_PER_DEVICE;
      stream.splice(0, excess);
      this.streamDropped += excess;
    }
    this.#scheduleStateFlush();
  }

  /**
   * State publishes leave once per event-loop turn for every device with new readings, all at once rather than
   * one device after another: a serial queue let a busy hub publish only ~100 states/s. While a flush is in
   * flight, new readings coalesce into the next one (the latest value wins; no backlog can build up).
   */
  #scheduleStateFlush(): void {
    if (this.#flushing || this.#flushScheduled) return;
    this.#flushScheduled = setImmediate(() => void this.#flushStates());
  }

  async #flushStates(): Promise<void> {
    this.#flushScheduled = undefined;
    this.#flushing = true;
    const batch = [...this.#dirty];
    this.#dirty.clear();
    const streams = [...this.#stream];
    this.#stream.clear();
    try {
      // Behind discovery and removals already queued, so a state never precedes its device's announcement.
      await this.#queue;
      const sent = Promise.all([
        ...batch.map(([deviceId, metrics]) => this.#publishState(deviceId, metrics, false)),
        ...streams.map(([deviceId, readings]) =>
          this.#deviceFor(deviceId) ? this.#send({ kind: 'readings', topic: this.#topics.readings(deviceId), payload: readings }) : undefined,
        ),
      ]);
      this.#inFlight += batch.length;
      void sent.finally(() => (this.#inFlight -= batch.length)).catch((err: unknown) => this.#log.error({ err: String(err) }, 'MQTT publish failed'));
      // The broker routes publishes in the order they were handed over, so the next flush need not wait for
      // this one: only when the broker falls far behind does the mirror wait (and readings coalesce meanwhile).
      if (this.#inFlight > MAX_STATES_IN_FLIGHT) await sent;
    } catch (err) {
      this.#log.error({ err }, 'MQTT publish failed');
    } finally {
      this.#flushing = false;
    }
    if (this.#dirty.size > 0) this.#scheduleStateFlush();
    else for (const resolve of this.#flushWaiters.splice(0)) resolve();
  }

  #onEvents({ deviceId, events }: HubEvents['event']): void {
    void this.#enqueue(async () => {
      const device = this.#deviceFor(deviceId);
      if (!device) return;
      for (const e of events) await this.#publishEvent(device, e);
    });
  }

  #onAvailability({ device, online }: HubEvents['availability']): void {
    void this.#enqueue(async () => {
      if (!this.#usable(device.id)) return;
      await this.#send({ kind: 'availability', topic: this.#topics.availability(device.id), payload: online ? 'online' : 'offline' });
    });
    this.#list.schedule();
  }

  /** Publishes discovery (clearing configs and metric topics of capabilities that went) and availability. */
  async #syncDevice(device: DeviceInfo, announceList: boolean): Promise<void> {
    if (!this.#usable(device.id)) return;
    const known = this.#published.get(device.id) ?? { discovery: new Map<string, DiscoveryConfig>(), metrics: new Set<string>() };
    this.#published.set(device.id, known);
    if (this.#discovery) {
      // The first publish of a device in this run also clears the other discovery mode's configs (null entries).
      const first = known.discovery.size === 0;
      const entries = discoveryFor(device, this.#topics, { ...this.#discoveryOptions, previous: known.discovery, clearOtherMode: first });
      const fresh = new Map(entries.flatMap((e) => (e.config ? [[e.topic, e.config] as const] : [])));
      for (const topic of known.discovery.keys()) {
        if (!fresh.has(topic)) await this.#send({ kind: 'discovery', topic, payload: null });
      }
      for (const e of entries) await this.#send({ kind: 'discovery', topic: e.topic, payload: e.config });
      known.discovery = fresh;
    }
    const names = new Set(device.capabilities.map((c) => c.name));
    for (const topic of [...known.metrics]) {
      const metric = topic.slice(topic.lastIndexOf('/') + 1);
      if (!names.has(metric)) {
        await this.#clear(topic);
        known.metrics.delete(topic);
      }
    }
    await this.#send({
      kind: 'availability',
      topic: this.#topics.availability(device.id),
      payload: device.online ? 'online' : 'offline',
    });
    if (announceList) this.#list.schedule();
  }

  /** Clears every retained topic of a removed device. */
  async #removeDevice(deviceId: string): Promise<void> {
    this.#dirty.delete(deviceId);
    this.#lastState.delete(deviceId);
    const known = this.#published.get(deviceId);
    this.#published.delete(deviceId);
    if (known && this.#usable(deviceId)) {
      for (const topic of known.discovery.keys()) await this.#send({ kind: 'discovery', topic, payload: null });
      for (const topic of known.metrics) {
        this.#lastMetric.delete(topic);
        await this.#clear(topic);
      }
      await this.#clear(this.#topics.state(deviceId));
      await this.#clear(this.#topics.availability(deviceId));
    }
    this.#list.schedule();
  }

  /**
   * State JSON plus the plain topic of each metric in `metrics` (every metric when null), only when a value
   * changed since the last publish, or stateHeartbeatMs passed, or `force` (re-publishing the retained tree).
   * Readings that repeat a value still go out on the lossless `readings` stream.
   */
  async #publishState(deviceId: string, metrics: Set<string> | null, force: boolean): Promise<void> {
    if (!this.#deviceFor(deviceId)) return;
    const state: DeviceStatePayload = this.#facade.currentState(deviceId);
    const values = JSON.stringify(Object.entries(state).map(([m, v]) => [m, v.value]));
    const now = this.#o.now();
    const last = this.#lastState.get(deviceId);
    const heartbeat = this.#o.stateHeartbeatMs > 0 && last !== undefined && now - last.at >= this.#o.stateHeartbeatMs;
    if (!force && !heartbeat && last?.values === values) return;
    this.#lastState.set(deviceId, { values, at: now });
    const known = this.#published.get(deviceId) ?? { discovery: new Map<string, DiscoveryConfig>(), metrics: new Set<string>() };
    this.#published.set(deviceId, known);
    // Distinct topics: handed to the broker together rather than one round trip each.
    const sends: Promise<void>[] = [];
    for (const [metric, current] of Object.entries(state)) {
      if (metrics && !metrics.has(metric)) continue;
      const topic = this.#topics.metric(deviceId, metric);
      if (topic === null) continue;
      const message: TopicMessage = { kind: 'metric', topic, payload: current.value };
      const payload = encodePayload(message);
      if (!force && !heartbeat && this.#lastMetric.get(topic) === payload) continue;
      this.#lastMetric.set(topic, payload);
      known.metrics.add(topic);
      sends.push(this.#send(message));
    }
    sends.push(this.#send({ kind: 'state', topic: this.#topics.state(deviceId), payload: state }));
    await Promise.all(sends);
  }

  async #publishEvent(device: DeviceInfo, e: CommittedEvent): Promise<void> {
    const cap = device.capabilities.find((c) => c.name === e.name);
    await this.#send({
      kind: 'event',
      topic: this.#topics.event(device.id, e.name),
      payload: { value: valueToJson(cap, e.value), ts: e.ts },
    });
    // A state reported as events (motion, door) is a binary_sensor in HA: keep its latest value retained.
    const stateTopic = cap && eventHasState(cap) ? this.#topics.metric(device.id, e.name) : null;
    if (stateTopic !== null) {
      this.#published.get(device.id)?.metrics.add(stateTopic);
      await this.#send({ kind: 'metric', topic: stateTopic, payload: valueToJson(cap, e.value) });
    }
  }

  #deviceFor(deviceId: string): DeviceInfo | undefined {
    return this.#usable(deviceId) ? this.#facade.device(deviceId) : undefined;
  }

  /** Device ids that cannot be one topic level are left out of the tree (logged once). */
  #usable(deviceId: string): boolean {
    if (isTopicSafeId(deviceId)) return true;
    if (!this.#skipped.has(deviceId)) {
      this.#skipped.add(deviceId);
      this.#log.warn({ deviceId }, 'device id cannot be an MQTT topic level; the device is not published on MQTT');
    }
    return false;
  }

  #send(message: TopicMessage): Promise<void> {
    const retain = RETAINED[message.kind];
    const pacer = this.#pacer;
    if (pacer && retain) return pacer.take().then(() => this.#publisher.publish(message.topic, encodePayload(message), retain));
    return this.#publisher.publish(message.topic, encodePayload(message), retain);
  }

  /** An empty retained payload deletes the retained message [MQTT-3.3.1-10]. */
  #clear(topic: string): Promise<void> {
    return this.#publisher.publish(topic, '', true);
  }

  /** Publishes a message of the tree after everything queued before (the bridge API's responses and events). */
  publish(message: TopicMessage): Promise<void> {
    return this.#enqueue(() => this.#send(message));
  }

  #enqueue(job: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(job).catch((err: unknown) => {
      this.#log.error({ err }, 'MQTT publish failed');
    });
    this.#queue = run;
    return run;
  }
}

