import { setImmediate as nextTurn } from 'node:timers/promises';
import type { CommittedEvent, DeviceInfo, HubEvents } from '../events.js';
import type { DeviceFacade } from '../facade.js';
import { valueToJson } from '../../protocol/value-form.js';
import { runCommand } from './run-command.js';
import { DevicesList } from './devices-list.js';
import { bridgeDiscovery, discoveryFor, eventHasState, type DiscoveryConfig, type DiscoveryOptions } from './discovery.js';
import type { MqttLogger } from './logger.js';
import type { Publisher } from './publisher.js';
import { RatePacer } from './rate-pacer.js';
import { StateMirror } from './state-mirror.js';
import type { TimerHandle, Timers } from '../timers.js';
import { RETAINED, encodePayload, isTopicSafeId, type TopicMessage, type Topics } from './topics.js';

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
  /** A device's state goes out at most once in this many ms (mqtt.stateMinIntervalMs); 0: every turn. */
  stateMinIntervalMs: number;
  /** Retained `<base>/bridge/canary` payload marking this hub's retained set (external brokers); null: none. */
  canary: string | null;
  /**
   * Several hubs on this broker (PostgreSQL): this hub's id. It then publishes its own `<base>/bridge/hubs/<id>/state`,
   * its own canary, the state of devices connected to it only (another hub's are that hub's to publish), and
   * `<base>/bridge/state` offline at its stop only when `othersAlive()` says no other hub runs. `shared`: the
   * other hubs publish into this broker too; then each device's discovery, availability and update topics are
   * published by the hub holding it, those of a device no hub holds by the caretaker (`caretaker()`), and
   * `<base>/bridge/devices` by the caretaker alone: not by every hub for every device (with 100,000 devices on
   * 6 hubs, each first HELLO made all six re-publish it, and each hub sent the 35 MB list every few seconds).
   */
  cluster?: { hubId: string; othersAlive(): boolean; caretaker(): boolean; shared: boolean } | undefined;
  now: () => number;
  timers: Timers;
  /** In [0, 1); Math.random in production. */
  random: () => number;
}


/**
 * How often a hub on a shared broker looks whether it became the caretaker and, as the caretaker, whether
 * `<base>/bridge/devices` changed (see #sweep).
 */
export const LIST_SWEEP_MS = 10_000;

/** Devices publishAll() publishes per event-loop turn. */
const PUBLISH_ALL_SLICE = 500;

/** Retained topics published for one device, so that they can be cleared when it or a capability goes. */
interface DeviceTopics {
  /** Discovery topic -> the config last published there. */
  discovery: Map<string, DiscoveryConfig>;
  metrics: Set<string>;
}

/**
 * Mirrors the hub into the MQTT topic tree through a Publisher: listens to the EventBus only (so what it
 * publishes was committed), and turns command messages into DeviceFacade.sendCommand calls. Publishes go
 * through one queue so that retained topics are set and cleared in the order the events happened; device
 * state and the readings stream are StateMirror's.
 */
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
  readonly #skipped = new Set<string>();
  readonly #list: DevicesList;
  readonly #state: StateMirror;
  #rediscover: Promise<void> | undefined;
  #pacer: RatePacer | null = null;
  #sweepTimer: TimerHandle | undefined;
  /** Whether this hub was the caretaker at the last publishAll() or sweep (shared broker only). */
  #wasCaretaker = false;

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
    this.#state = new StateMirror({
      ...{ facade: opts.facade, topics: opts.topics, logger: opts.logger, stateHeartbeatMs: opts.stateHeartbeatMs, now: opts.now, timers: opts.timers },
      stateMinIntervalMs: opts.stateMinIntervalMs,
      deviceFor: (id) => this.#deviceFor(id),
      send: (m) => this.#send(m),
      queued: () => this.#queue,
      retained: (id, topic) => this.#known(id).metrics.add(topic),
    });
  }

  /** Readings dropped from `<base>/<device>/readings` for a consumer too far behind. */
  get streamDropped(): number {
    return this.#state.streamDropped;
  }

  /** Starts following the EventBus. */
  attach(): void {
    if (this.#detach.length > 0) return;
    const bus = this.#facade.bus;
    this.#detach = [
      bus.on('readings', (p) => this.#state.onReadings(p)),
      bus.on('event', (p) => this.#onEvents(p)),
      bus.on('availability', (p) => this.#onAvailability(p)),
      // Whose the device is, asked when the job runs: a HELLO's device.updated comes just before the registry
      // marks the device online here.
      bus.on('device.updated', (p) =>
        this.#enqueue(async () => {
          if (this.cares(p.device.id)) await this.#syncDevice(p.device, true);
          else this.#scheduleList();
        }),
      ),
      bus.on('device.removed', (p) => this.#enqueue(() => this.#removeDevice(p.device))),
    ];
    if (this.#o.cluster?.shared) this.#sweep();
  }

  /** Stops following the EventBus; queued publishes still go out (see idle()). */
  detach(): void {
    for (const off of this.#detach) off();
    this.#detach = [];
    if (this.#sweepTimer !== undefined) this.#o.timers.clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
    this.#state.stop();
  }

  /**
   * Publishes every retained topic: bridge online, then per device discovery, availability and state, then the
   * list, then the canary (last: its presence on the broker vouches for everything before it).
   */
  publishAll(): Promise<void> {
    return this.#enqueue(async () => {
      const cluster = this.#o.cluster;
      await this.#send({ kind: 'bridgeState', topic: this.#topics.bridgeState(), payload: 'online' });
      if (cluster) await this.#send({ kind: 'hubState', topic: this.#topics.hubState(cluster.hubId), payload: 'online' });
      if (this.#discovery) {
        for (const e of bridgeDiscovery(this.#topics, { ...this.#discoveryOptions, clearOtherMode: true })) {
          await this.#send({ kind: 'discovery', topic: e.topic, payload: e.config });
        }
      }
      let n = 0;
      for (const device of this.#facade.devices()) {
        // Publishes resolve at once (handed over or held): without a turn now and then, 100,000 devices held
        // the event loop for seconds.
        if (++n % PUBLISH_ALL_SLICE === 0) await nextTurn();
        if (this.cares(device.id)) await this.#syncDevice(device, false);
        if (!cluster || device.hub === cluster.hubId) await this.#state.publishState(device.id, null, true);
      }
      if (cluster?.shared) this.#wasCaretaker = cluster.caretaker();
      if (this.#listIsMine()) await this.#list.publish(true);
      if (this.#o.canary !== null) {
        const instance = { instance: this.#o.canary };
        if (cluster) await this.#send({ kind: 'hubCanary', topic: this.#topics.hubCanary(cluster.hubId), payload: instance });
        else await this.#send({ kind: 'bridgeCanary', topic: this.#topics.bridgeCanary(), payload: instance });
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
          const devices = this.#facade.devices().filter((d) => this.cares(d.id));
          for (const device of devices) await this.#syncDevice(device, false);
          for (const device of devices) await this.#state.publishState(device.id, null, true);
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
    const cluster = this.#o.cluster;
    return this.#enqueue(async () => {
      if (cluster) await this.#send({ kind: 'hubState', topic: this.#topics.hubState(cluster.hubId), payload: 'offline' });
      if (!cluster?.othersAlive()) await this.#send({ kind: 'bridgeState', topic: this.#topics.bridgeState(), payload: 'offline' });
    });
  }

  /** Resolves when everything queued so far has been published, state flushes included. */
  async idle(): Promise<void> {
    await this.#list.idle();
    await this.#queue;
    await this.#state.idle();
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
      // Several hubs: a device this hub let go of is online at the hub that took it.
      const shown = this.#o.cluster ? (this.#facade.device(device.id)?.online ?? online) : online;
      await this.#send({ kind: 'availability', topic: this.#topics.availability(device.id), payload: shown ? 'online' : 'offline' });
    });
    this.#scheduleList();
  }

  /** Publishes discovery (clearing configs and metric topics of capabilities that went) and availability. */
  async #syncDevice(device: DeviceInfo, announceList: boolean): Promise<void> {
    if (!this.#usable(device.id)) return;
    const known = this.#known(device.id);
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
    if (announceList) this.#scheduleList();
  }

  /**
   * Clears every retained topic of a removed device (its update topic too: the update mirror's): those this hub
   * published, and on a shared broker, at the caretaker, those its last info names (another hub, maybe gone
   * since, published them).
   */
  async #removeDevice(device: DeviceInfo): Promise<void> {
    const deviceId = device.id;
    const known = this.#published.get(deviceId);
    this.#published.delete(deviceId);
    this.#state.forget(deviceId, known?.metrics ?? []);
    const fromInfo = this.#o.cluster?.shared === true && this.#o.cluster.caretaker();
    if ((known || fromInfo) && this.#usable(deviceId)) {
      const discovery = new Set(known?.discovery.keys());
      const metrics = new Set(known?.metrics);
      if (fromInfo) {
        // Both modes' configs (clearOtherMode lists the other's as null entries) and every capability's topic.
        if (this.#discovery) for (const e of discoveryFor(device, this.#topics, { ...this.#discoveryOptions, clearOtherMode: true })) discovery.add(e.topic);
        for (const c of device.capabilities) {
          const topic = this.#topics.metric(deviceId, c.name);
          if (topic !== null) metrics.add(topic);
        }
      }
      for (const topic of discovery) await this.#send({ kind: 'discovery', topic, payload: null });
      for (const topic of metrics) await this.#clear(topic);
      await this.#clear(this.#topics.state(deviceId));
      await this.#clear(this.#topics.availability(deviceId));
      if (device.updatable === true) await this.#clear(this.#topics.update(deviceId));
    }
    this.#scheduleList();
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

  /**
   * Whether this hub publishes the device's discovery, availability and update topics: always, but on a broker
   * other hubs share, where the hub holding the device does, and the caretaker when no hub holds it.
   */
  cares(deviceId: string): boolean {
    const c = this.#o.cluster;
    if (!c?.shared) return true;
    const hub = this.#facade.device(deviceId)?.hub;
    return hub === c.hubId || (!hub && c.caretaker());
  }

  /** Whether this hub publishes `<base>/bridge/devices`: on a broker other hubs share, the caretaker alone. */
  #listIsMine(): boolean {
    const c = this.#o.cluster;
    return !c?.shared || c.caretaker();
  }

  #scheduleList(): void {
    if (this.#listIsMine()) this.#list.schedule();
  }

  /**
   * On a shared broker, every LIST_SWEEP_MS: the caretaker looks at the list (devices connecting to and leaving
   * other hubs change it without an event here; it goes out only when it changed), and a hub that has just
   * become the caretaker (the last one died) publishes the devices no hub holds, so that a change made to one
   * while there was no caretaker is not left out.
   */
  #sweep(): void {
    this.#sweepTimer = this.#o.timers.setTimeout(() => {
      const caretaker = this.#o.cluster!.caretaker();
      if (caretaker && !this.#wasCaretaker) void this.#enqueue(() => this.#syncUnheld());
      this.#wasCaretaker = caretaker;
      this.#scheduleList();
      this.#sweep();
    }, LIST_SWEEP_MS);
  }

  /** The caretaker's share of publishAll(): discovery and availability of the devices no hub holds. */
  async #syncUnheld(): Promise<void> {
    if (!this.#o.cluster?.caretaker()) return;
    let n = 0;
    for (const device of this.#facade.devices()) {
      if (device.hub) continue;
      if (++n % PUBLISH_ALL_SLICE === 0) await nextTurn();
      await this.#syncDevice(device, false);
    }
  }

  /** The retained topics of a device, created empty on first use. */
  #known(deviceId: string): DeviceTopics {
    let known = this.#published.get(deviceId);
    if (!known) this.#published.set(deviceId, (known = { discovery: new Map<string, DiscoveryConfig>(), metrics: new Set<string>() }));
    return known;
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

