// Many simulated devices in one process. All of them run on one TimerQueue (one Node timer for the
// whole fleet), start on a ramp so the hub is not hit by 10,000 TLS handshakes in the same second, and
// report one set of aggregate counters.
import type { OtaFaults } from './ota-faults.js';
import type { BackoffOptions } from './backoff.js';
import { systemClock, type Clock } from './clock.js';
import type { DeviceSpec } from './fleet-plan.js';
import { LatencyHistogram } from './latency-histogram.js';
import type { DeviceModel } from './models/model.js';
import { modelByName } from './models/index.js';
import type { OutboxBounds } from './outbox.js';
import { COUNTER_KEYS, type DeviceCounters } from './device-counters.js';
import { SimDevice } from './sim-device.js';
import { TimerQueue } from './timer-queue.js';

export interface FleetOptions {
  /** One hub, or several of one installation: device i dials hub i mod n first, then moves on [FP-10.8]. */
  hubUrl: string | readonly string[];
  devices: (DeviceSpec | (Omit<DeviceSpec, 'model'> & { model: DeviceModel }))[];
  /** Readings per second per device, unless a spec says otherwise (default 1; 0 = only sendNow()). */
  rate?: number;
  seed?: string | number;
  ca?: string | Buffer;
  insecure?: boolean;
  /** The clock under the fleet's shared timer queue (default: wall clock). */
  clock?: Clock;
  /** Dials per second while starting (default 500; Infinity dials all at once). */
  rampPerSecond?: number;
  backoff?: BackoffOptions;
  buffer?: Partial<OutboxBounds>;
  stateDir?: string;
  /** With stateDir: keep each device's never-compacted journal record there (see SimDeviceOptions). */
  journalRecord?: boolean;
  compactBytes?: number;
  recordSent?: boolean;
  /** Firmware-update faults per device id [FP-14] (hearth-sim --ota-fault). */
  otaFaults?: (id: string) => OtaFaults | undefined;
}

export interface FleetStats extends DeviceCounters {
  devices: number;
  online: number;
  /** Devices that completed a greeting at least once. */
  everConnected: number;
  /** Devices that stopped for good: revoked, or refused as incompatible. */
  parked: number;
  /** Frames held unacknowledged plus samples waiting in offline BATCHes. */
  pending: number;
  /** Readings and events not yet acknowledged. */
  pendingItems: number;
  ackLatencyMs: { count: number; p50: number | null; p99: number | null; max: number };
  elapsedMs: number;
  /** The simulator process's own cost (it shares the machine with the hub in load tests). */
  cpu: { userMs: number; systemMs: number; percentOfOneCore: number };
  memory: { rssBytes: number; heapUsedBytes: number; externalBytes: number };
  /** Live timers in the shared queue. */
  timers: number;
  /** Refusals ('401 HUB_ERR_BAD_TOKEN') and hub ERROR codes seen, with counts. */
  hubErrors: Record<string, number>;
}

/** A fleet of SimDevices. Nothing happens until start(). */
export class Fleet {
  readonly #options: FleetOptions;
  readonly #timers: TimerQueue;
  #devices: SimDevice[] = [];
  #online = 0;
  #everConnected = new Set<string>();
  #waiters: { n: number; resolve: () => void }[] = [];
  #startedAt = 0;
  readonly #unstarted = new Set<() => void>();
  readonly #hubErrors: Record<string, number> = {};
  #cpuAtStart: NodeJS.CpuUsage | null = null;

  constructor(options: FleetOptions) {
    this.#options = options;
    this.#timers = new TimerQueue(options.clock ?? systemClock);
  }

  /** The devices (empty before start()). */
  get devices(): readonly SimDevice[] {
    return this.#devices;
  }

  /** The shared clock every device of the fleet schedules on. */
  get clock(): Clock {
    return this.#timers;
  }

  /** Creates the devices and starts them along the ramp; resolves once every device has dialed once. */
  async start(): Promise<void> {
    if (this.#cpuAtStart !== null) throw new Error('fleet already started');
    const o = this.#options;
    this.#startedAt = this.#timers.now();
    this.#cpuAtStart = process.cpuUsage();
    this.#devices = o.devices.map((spec, i) => this.#create(spec, i));
    const ramp = o.rampPerSecond ?? 500;
    const starts = this.#devices.map((device, i) => {
      const delay = Number.isFinite(ramp) && ramp > 0 ? Math.floor((i * 1000) / ramp) : 0;
      if (delay === 0) return device.start();
      return new Promise<void>((resolve, reject) => {
        // A fleet stopped during its ramp resolves the devices it never started.
        this.#unstarted.add(resolve);
        this.#timers.setTimeout(() => {
          if (!this.#unstarted.delete(resolve)) return;
          device.start().then(resolve, reject);
        }, delay);
      });
    });
    await Promise.all(starts);
  }

  /** Resolves when at least `n` devices (default: all) are online; rejects after `timeoutMs` of wall time. */
  waitConnected(n = this.#options.devices.length, timeoutMs = 30_000): Promise<void> {
    if (this.#online >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      // Wall time on purpose: this bounds a test or a CLI run, whatever clock drives the devices.
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.#online} of ${n} devices connected after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** Ids of the devices that never completed a greeting. */
  neverConnected(): string[] {
    return this.#devices.filter((d) => !this.#everConnected.has(d.id)).map((d) => d.id);
  }

  /** Every device takes one reading now and sends (or buffers) it; returns the items generated. */
  sendNow(): number {
    let items = 0;
    for (const d of this.#devices) items += d.sendNow();
    return items;
  }

  /** Aggregate counters, ACK latency percentiles and the process's CPU and memory. */
  stats(): FleetStats {
    const totals = Object.fromEntries(COUNTER_KEYS.map((k) => [k, 0])) as unknown as DeviceCounters;
    const latency = new LatencyHistogram();
    let pending = 0;
    let pendingItems = 0;
    let parked = 0;
    for (const d of this.#devices) {
      for (const k of COUNTER_KEYS) totals[k] += d.counters[k];
      latency.merge(d.latency);
      pending += d.pending;
      pendingItems += d.pendingItems;
      if (d.state === 'revoked' || d.state === 'incompatible') parked++;
    }
    const elapsedMs = Math.max(0, this.#timers.now() - this.#startedAt);
    const cpu = process.cpuUsage(this.#cpuAtStart ?? undefined);
    const mem = process.memoryUsage();
    const cpuMs = (cpu.user + cpu.system) / 1000;
    return {
      ...totals,
      devices: this.#options.devices.length,
      online: this.#online,
      everConnected: this.#everConnected.size,
      parked,
      pending,
      pendingItems,
      ackLatencyMs: { count: latency.count, p50: round(latency.quantile(0.5)), p99: round(latency.quantile(0.99)), max: round(latency.max) ?? 0 },
      elapsedMs,
      cpu: { userMs: Math.round(cpu.user / 1000), systemMs: Math.round(cpu.system / 1000), percentOfOneCore: elapsedMs > 0 ? Math.round((cpuMs / elapsedMs) * 1000) / 10 : 0 },
      memory: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, externalBytes: mem.external },
      timers: this.#timers.size,
      hubErrors: { ...this.#hubErrors },
    };
  }

  /**
   * Stops every device: each waits up to `ackTimeoutMs` for its buffer to be acknowledged, then closes
   * with 1000 and saves its state. Returns the final stats.
   */
  async stop(options: { ackTimeoutMs?: number } = {}): Promise<FleetStats> {
    for (const resolve of this.#unstarted) resolve();
    this.#unstarted.clear();
    await Promise.all(this.#devices.map((d) => d.stop(options)));
    const stats = this.stats();
    this.#timers.clear();
    return stats;
  }

  #create(spec: FleetOptions['devices'][number], index: number): SimDevice {
    const o = this.#options;
    const model = typeof spec.model === 'string' ? modelByName(spec.model) : spec.model;
    if (model === undefined) throw new Error(`device ${spec.id}: unknown model "${String(spec.model)}"`);
    const device = new SimDevice({
      id: spec.id,
      token: spec.token,
      model,
      hubUrl: o.hubUrl,
      firstHub: index,
      ca: o.ca,
      insecure: o.insecure,
      clock: this.#timers,
      seed: o.seed,
      rate: spec.rate ?? o.rate,
      backoff: o.backoff,
      buffer: o.buffer,
      stateDir: o.stateDir,
      journalRecord: o.journalRecord,
      compactBytes: o.compactBytes,
      recordSent: o.recordSent,
      ota: o.otaFaults?.(spec.id),
    });
    let online = false;
    device.on('online', () => {
      if (online) return;
      online = true;
      this.#online++;
      this.#everConnected.add(device.id);
      this.#waiters = this.#waiters.filter((w) => {
        if (this.#online < w.n) return true;
        w.resolve();
        return false;
      });
    });
    device.on('hub-error', (e) => this.#countError(e.code));
    device.on('offline', (e) => {
      if (e.httpStatus !== undefined) this.#countError(`${e.httpStatus} ${e.reason || 'refused'}`);
      if (!online) return;
      online = false;
      this.#online--;
    });
    return device;
  }

  #countError(key: string): void {
    this.#hubErrors[key] = (this.#hubErrors[key] ?? 0) + 1;
  }
}

function round(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms * 100) / 100;
}
