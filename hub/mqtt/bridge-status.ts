import type { DeviceInfo, HubEvents } from '../events.js';
import type { DeviceFacade, HubHealth } from '../facade.js';
import type { Timers, TimerHandle } from '../timers.js';
import { histogramQuantile } from '../observability/histogram-quantile.js';
import type { HistogramSnapshot } from '../observability/metrics-registry.js';
import { HUB_VERSION } from '../version.js';
import type { BridgeEventPayload, BridgeHealthPayload, BridgeInfoPayload, TopicMessage, Topics } from './topics.js';

export interface BridgeStatusOptions {
  facade: DeviceFacade;
  /** Storage state and devices online; without it (benchmarks) storage reads 'ok'. */
  health: (() => HubHealth) | null;
  topics: Topics;
  /** Queues a message behind the mirror's other publishes. */
  publish: (message: TopicMessage) => Promise<void>;
  settings: BridgeInfoPayload['mqtt'];
  /** Git commit of the build, null when unknown. */
  commit: string | null;
  /** `hub.id`. */
  hubId: string;
  /** The ACK latency histogram in seconds (HubMetrics' hearth_ack_latency_seconds); null: ackLatencyP99Ms stays null. */
  ackLatency: (() => HistogramSnapshot) | null;
  /** mqtt.healthIntervalMs; 0: no health messages. */
  healthIntervalMs: number;
  now: () => number;
  timers: Timers;
}

/**
 * The bridge's own topics beside the device tree, like Zigbee2MQTT's: `<base>/bridge/info` (retained, at
 * start and when a device joins or leaves), `<base>/bridge/health` (every healthIntervalMs) and
 * `<base>/bridge/event` (one message per join, leave, connect, disconnect and update; O(1) per event, so a
 * fleet reconnecting costs one small message per device).
 */
export class BridgeStatus {
  readonly #o: BridgeStatusOptions;
  readonly #startedAt: number;
  readonly #known = new Set<string>();
  readonly #connections = new Map<string, number>();
  #totalConnections = 0;
  #readings = 0;
  #lastTick: number;
  /** The ACK latency histogram at the last health(): p99 is over what was observed since. */
  #lastAck: HistogramSnapshot | null = null;
  #timer: TimerHandle | undefined;
  #detach: (() => void)[] = [];

  constructor(opts: BridgeStatusOptions) {
    this.#o = opts;
    this.#startedAt = opts.now();
    this.#lastTick = this.#startedAt;
  }

  /** Follows the bus, publishes bridge/info and starts the health timer. */
  start(): Promise<void> {
    const bus = this.#o.facade.bus;
    for (const d of this.#o.facade.devices()) this.#known.add(d.id);
    this.#detach = [
      bus.on('readings', (p) => (this.#readings += p.readings.length)),
      bus.on('availability', (p) => this.#onAvailability(p)),
      bus.on('device.updated', (p) => this.#onUpdated(p.device)),
      bus.on('device.removed', (p) => this.#onRemoved(p.deviceId)),
    ];
    this.#schedule();
    return this.publishInfo();
  }

  /** Stops the timer and the bus listeners. */
  stop(): void {
    for (const off of this.#detach) off();
    this.#detach = [];
    if (this.#timer !== undefined) this.#o.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Publishes `<base>/bridge/info` (retained). */
  publishInfo(): Promise<void> {
    return this.#o.publish({ kind: 'bridgeInfo', topic: this.#o.topics.bridgeInfo(), payload: this.info() });
  }

  /** The payload of `<base>/bridge/info` now. */
  info(): BridgeInfoPayload {
    const devices = this.#o.facade.devices();
    return {
      hubId: this.#o.hubId,
      version: HUB_VERSION,
      commit: this.#o.commit,
      uptimeMs: this.#o.now() - this.#startedAt,
      devices: { total: devices.length, online: devices.filter((d) => d.online).length },
      mqtt: this.#o.settings,
    };
  }

  /** The payload of `<base>/bridge/health` now; resets the readings-per-second and ACK latency windows. */
  health(): BridgeHealthPayload {
    const now = this.#o.now();
    const seconds = Math.max(0.001, (now - this.#lastTick) / 1000);
    const readingsPerSecond = Math.round((this.#readings / seconds) * 10) / 10;
    this.#readings = 0;
    this.#lastTick = now;
    const h = this.#o.health?.();
    return {
      readingsPerSecond,
      devicesOnline: h?.devicesOnline ?? this.#o.facade.devices().filter((d) => d.online).length,
      connections: this.#totalConnections,
      ackLatencyP99Ms: this.#ackLatencyP99Ms(),
      storage: h?.storage ?? 'ok',
      deviceConnections: Object.fromEntries(this.#connections),
    };
  }

  /** p99 of the ACK latencies since the last call, in ms to 0.1 ms; null when no frame was acknowledged meanwhile. */
  #ackLatencyP99Ms(): number | null {
    const snapshot = this.#o.ackLatency?.();
    if (!snapshot) return null;
    const p99 = histogramQuantile(0.99, snapshot, this.#lastAck);
    this.#lastAck = snapshot;
    return p99 === null ? null : Math.round(p99 * 10_000) / 10;
  }

  #schedule(): void {
    if (this.#o.healthIntervalMs <= 0) return;
    this.#timer = this.#o.timers.setTimeout(() => {
      void this.#o.publish({ kind: 'bridgeHealth', topic: this.#o.topics.bridgeHealth(), payload: this.health() });
      this.#schedule();
    }, this.#o.healthIntervalMs);
  }

  #onAvailability({ device, online }: HubEvents['availability']): void {
    if (online) {
      this.#totalConnections += 1;
      this.#connections.set(device.id, (this.#connections.get(device.id) ?? 0) + 1);
    }
    this.#event({ type: online ? 'device_connected' : 'device_disconnected', data: { id: device.id, name: device.name } });
  }

  #onUpdated(device: DeviceInfo): void {
    const joined = !this.#known.has(device.id);
    this.#known.add(device.id);
    this.#event({ type: joined ? 'device_joined' : 'device_updated', data: { id: device.id, name: device.name, room: device.room } });
    if (joined) void this.publishInfo();
  }

  #onRemoved(deviceId: string): void {
    if (!this.#known.delete(deviceId)) return;
    this.#connections.delete(deviceId);
    this.#event({ type: 'device_left', data: { id: deviceId } });
    void this.publishInfo();
  }

  #event(payload: BridgeEventPayload): void {
    void this.#o.publish({ kind: 'bridgeEvent', topic: this.#o.topics.bridgeEvent(), payload });
  }
}
